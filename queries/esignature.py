"""Electronic signatures (21 CFR Part 11 style): the signer re-enters the password of the account that is
signed in; a failed attempt is audited with what was being signed and the meaning of the signature."""

from __future__ import annotations

from queries import audit, users
from queries.warehouse import Warehouse


def verified(wh: Warehouse, *, user_id: str, password, object_type: str, object_id: str, meaning: str) -> bool:
    """True when the password matches the signed-in user's active account; a mismatch is audited."""
    if isinstance(password, str) and users.verify_password(wh, user_id, password) is not None:
        return True
    audit.append(wh, user_id=user_id, action="esignature_failed", object_type=object_type,
                 object_id=str(object_id)[:100], reason="password did not match", meaning=meaning)
    return False


def audit_refusal(wh: Warehouse, *, user_id: str, action: str, object_type: str, object_id, reason: str) -> None:
    """Audit a signature the server refused before asking for the password (role, scope, unknown record);
    the object id is whatever the browser sent, cut to 100 characters."""
    audit.append(wh, user_id=user_id, action=action, object_type=object_type,
                 object_id=str(object_id)[:100] if object_id else None, reason=reason)
