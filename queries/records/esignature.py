"""Electronic signatures (21 CFR Part 11 style): the signer re-enters the password of the account that is
signed in; a failed or refused attempt is audited with what was being signed and the meaning of the
signature. How many attempts a user may make is the web layer's business (``attempt_allowed``)."""

from __future__ import annotations

from collections.abc import Callable

from queries.engine.warehouse import Warehouse
from queries.records import audit, users


class SignatureFailed(PermissionError):
    """No signature: the message says why (shown to the signer)."""


def check(wh: Warehouse, *, user_id: str, password, object_type: str, object_id: str, meaning: str,
          attempt_allowed: Callable[[], bool] | None = None) -> None:
    """Return if the password matches the signed-in user's active account; else audit and raise.
    ``attempt_allowed`` counts the attempt (a rate limit per user) and says whether it may go ahead."""
    if attempt_allowed is not None and not attempt_allowed():
        audit.append(wh, user_id=user_id, action="esignature_rate_limited", object_type=object_type,
                     object_id=str(object_id)[:100], reason="too many signature attempts", meaning=meaning)
        raise SignatureFailed("Too many signature attempts: wait a minute, then sign again.")
    if isinstance(password, str) and users.verify_password(wh, user_id, password) is not None:
        return
    audit.append(wh, user_id=user_id, action="esignature_failed", object_type=object_type,
                 object_id=str(object_id)[:100], reason="password did not match", meaning=meaning)
    raise SignatureFailed("Signature failed: the password does not match your account.")


def audit_refusal(wh: Warehouse, *, user_id: str, action: str, object_type: str, object_id, reason: str) -> None:
    """Audit a signature the server refused before asking for the password (role, scope, unknown record);
    the object id is whatever the browser sent, cut to 100 characters."""
    audit.append(wh, user_id=user_id, action=action, object_type=object_type,
                 object_id=str(object_id)[:100] if object_id else None, reason=reason)
