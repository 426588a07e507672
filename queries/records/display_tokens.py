"""Display tokens: long-lived, revocable credentials that sign a wall display in without a password.

A token reads `<token_id>.<secret>`. Only sha256(secret) is stored: the secret has 256 bits of
entropy, so a slow password hash adds nothing, and a leaked table cannot be turned back into tokens.
Each token belongs to one user with the display role; revoking it ends every session it opened."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from queries.engine.ttl_cache import RecentAnswers
from queries.engine.warehouse import Warehouse
from queries.records import audit, users
from queries.records.users import UserRecord

_recent = RecentAnswers(size=4096, seconds=users.RECHECK_S)  # token id -> still active
_TOKEN = re.compile(r"^(dt_[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewToken:
    token_id: str
    token: str  # shown once; never stored


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(wh: Warehouse, *, user_id: str, label: str, created_by: str, reason: str | None = None,
           meaning: str | None = None) -> NewToken:
    """A new token for a display user; audited (without the secret)."""
    user = users.get_user(wh, user_id)
    if user is None or not user.active:
        raise ValueError(f"no active user {user_id!r}")
    if user.role != "display":
        raise ValueError(f"display tokens are only for users with the display role, not {user.role}")
    label = label.strip()[:100]
    if not label:
        raise ValueError("a label (where the screen is) is required")
    token_id = f"dt_{secrets.token_hex(6)}"
    secret = secrets.token_urlsafe(32)
    with wh.transaction() as conn:
        wh.run(conn, "sql/display_token_insert", {
            "token_id": token_id, "token_hash": _digest(secret), "user_id": user_id, "label": label,
            "created_at": _now(), "created_by": created_by})
        audit.append(wh, user_id=created_by, action="display_token_created", object_type="display_token",
                     object_id=token_id, reason=reason or None, new_value=f"user={user_id} label={label}",
                     meaning=meaning, conn=conn)
    return NewToken(token_id, f"{token_id}.{secret}")


def revoke(wh: Warehouse, token_id: str, *, revoked_by: str, reason: str, meaning: str | None = None) -> bool:
    """Revoke a token (sessions it opened end at their next request); False if unknown or already revoked."""
    if not is_active(wh, token_id):
        return False
    with wh.transaction() as conn:
        wh.run(conn, "sql/display_token_revoke", {"token_id": token_id, "revoked_at": _now(),
                                                  "revoked_by": revoked_by})
        audit.append(wh, user_id=revoked_by, action="display_token_revoked", object_type="display_token",
                     object_id=token_id, reason=reason or None, old_value="active", new_value="revoked",
                     meaning=meaning, conn=conn)
    _recent.forget((wh.url, token_id))
    return True


def authenticate(wh: Warehouse, token: str | None) -> tuple[str, UserRecord] | None:
    """(token_id, display user) for a valid, unrevoked token of an active display user; else None."""
    match = _TOKEN.match(token or "")
    if not match:
        return None
    token_id, secret = match.groups()
    row = wh.query("sql/display_token_get", {"token_id": token_id})
    if row.empty:
        return None
    stored = row.iloc[0]
    if not hmac.compare_digest(str(stored.token_hash), _digest(secret)) or not is_active(wh, token_id):
        return None
    user = users.get_user(wh, str(stored.user_id))
    if user is None or not user.active or user.role != "display":
        return None
    return token_id, user


def is_active_recent(wh: Warehouse, token_id: str) -> bool:
    """is_active, or this process's own answer to it of the last users.RECHECK_S seconds (checked on
    every request of a wall display); a revocation through this module is seen at once."""
    return _recent.get_or_compute((wh.url, token_id), lambda: is_active(wh, token_id))


def is_active(wh: Warehouse, token_id: str) -> bool:
    row = wh.query("sql/display_token_get", {"token_id": token_id})
    if row.empty:
        return False
    revoked = row.iloc[0].revoked_at
    return revoked is None or revoked != revoked  # None or NaT


def token_id_of(token: str | None) -> str | None:
    match = _TOKEN.match(token or "")
    return match.group(1) if match else None


def list_tokens(wh: Warehouse):
    """Every token (never a secret or its hash), with when a screen last signed in with it."""
    return wh.query("sql/display_tokens_list")
