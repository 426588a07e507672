"""The user store: argon2id password hashes, roles, and a session version that ends sessions."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from queries.engine.scope import ROLES
from queries.engine.ttl_cache import RecentAnswers
from queries.engine.warehouse import Warehouse
from queries.records import audit

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user is unknown, so both answers take an argon2 check. Made on first
    use, not at import: one hash costs about a second, in every process that imports this module."""
    return _hasher.hash("not-a-real-password")


MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte typed into a web form is not a password
# A login name: what the login form, the audit trail and the CLI can all show without quoting.
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
NAME_MAX = 100
# Every request re-checks its session's user; a process answers that from its own reads of the last
# RECHECK_S seconds (a database round trip per request was most of a cached answer's cost under load).
# Changes made through this module are seen at once; changes made by another process within RECHECK_S.
RECHECK_S = 2.0
_recent = RecentAnswers(size=4096, seconds=RECHECK_S)


@dataclass(frozen=True)
class UserRecord:
    user_id: str
    display_name: str
    role: str
    site_id: str | None
    session_version: int
    active: bool


def get_user(wh: Warehouse, user_id: str) -> UserRecord | None:
    df = wh.query("sql/user_get", {"user_id": user_id})
    if df.empty:
        return None
    row = df.iloc[0]
    return UserRecord(str(row.user_id), str(row.display_name), str(row.role),
                      None if row.site_id is None or row.site_id != row.site_id else str(row.site_id),
                      int(row.session_version), bool(row.active))


def get_user_recent(wh: Warehouse, user_id: str) -> UserRecord | None:
    """get_user, or this process's own answer to it of the last RECHECK_S seconds."""
    return _recent.get_or_compute((wh.url, user_id), lambda: get_user(wh, user_id))


def _changed(wh: Warehouse, user_id: str) -> None:
    _recent.forget((wh.url, user_id))


def verify_password(wh: Warehouse, user_id: str, password: str) -> UserRecord | None:
    """The user if the password matches an active account; None otherwise (same cost either way)."""
    df = wh.query("sql/user_get", {"user_id": user_id})
    stored = _dummy_hash() if df.empty else str(df.iloc[0].password_hash)
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if df.empty:
        return None
    user = get_user(wh, user_id)
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(stored):
        with wh.transaction() as conn:
            wh.run(conn, "sql/user_set_password_hash",
                   {"user_id": user_id, "password_hash": _hasher.hash(password)})
    return user


def check_password(password) -> None:
    """The password rules, the same for the CLI and the admin pages (ValueError says which is broken)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")


def check_new_user(wh: Warehouse, *, user_id, role, site_id) -> None:
    """Everything about a new account except its password: the CLI checks this before asking for one."""
    if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
        raise ValueError("user id: 1 to 100 letters, digits, '.', '_', '@' or '-', starting with a letter "
                         "or digit")
    check_role(wh, role, site_id)
    if get_user(wh, user_id) is not None:
        raise ValueError(f"user {user_id!r} already exists")


def add_user(wh: Warehouse, *, user_id: str, display_name: str, role: str, site_id: str | None,
             password: str, added_by: str | None = None, reason: str | None = None,
             meaning: str | None = None) -> UserRecord:
    """A new active account. With ``added_by`` the audit entry (reason, signature meaning) is written
    in the same transaction; without it the caller audits (the demo users and the test fixtures)."""
    check_new_user(wh, user_id=user_id, role=role, site_id=site_id)
    check_password(password)
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name) > NAME_MAX:
        raise ValueError(f"a name of 1 to {NAME_MAX} characters is required")
    with wh.transaction() as conn:
        wh.run(conn, "sql/user_insert", {
            "user_id": user_id, "display_name": display_name.strip(), "role": role, "site_id": site_id,
            "password_hash": _hasher.hash(password), "created_at": datetime.now(UTC).replace(tzinfo=None),
        })
        if added_by is not None:
            audit.append(wh, user_id=added_by, action="user_added", object_type="user", object_id=user_id,
                         reason=reason, new_value=f"role={role} site={site_id}", meaning=meaning, conn=conn)
    _changed(wh, user_id)
    return get_user(wh, user_id)


def end_sessions(wh: Warehouse, user_id: str) -> None:
    """Invalidate every session cookie issued to the user (logout, role change)."""
    with wh.transaction() as conn:
        wh.run(conn, "sql/user_bump_session", {"user_id": user_id})
    _changed(wh, user_id)


def check_role(wh: Warehouse, role, site_id) -> None:
    """A known role, and a known site exactly when the role is site_manager."""
    if not isinstance(role, str) or role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "site_manager" and not site_id:
        raise ValueError("a site_manager needs a site id")
    if role != "site_manager" and site_id:
        raise ValueError(f"role {role} is not tied to a site; omit the site id")
    if site_id is not None and not isinstance(site_id, str):
        raise ValueError("a site id is text")
    if site_id and site_id not in set(wh.query("sql/site_ids")["site_id"]):
        raise ValueError(f"unknown site {site_id!r}")


def set_role(wh: Warehouse, user_id: str, *, role: str, site_id: str | None, changed_by: str,
             reason: str, meaning: str | None = None) -> UserRecord:
    """Change a user's role (and site); ends their sessions; audited with old and new values."""
    before = get_user(wh, user_id)
    if before is None:
        raise ValueError(f"no user {user_id!r}")
    if not (reason or "").strip():
        raise ValueError("a reason is required for a role change")
    check_role(wh, role, site_id)
    with wh.transaction() as conn:
        wh.run(conn, "sql/user_set_role", {"user_id": user_id, "role": role, "site_id": site_id})
        audit.append(wh, user_id=changed_by, action="user_role_changed", object_type="user", object_id=user_id,
                     reason=reason.strip(), old_value=f"role={before.role} site={before.site_id}",
                     new_value=f"role={role} site={site_id}", meaning=meaning, conn=conn)
    _changed(wh, user_id)
    return get_user(wh, user_id)


def check_email(email: str | None) -> None:
    from queries.notifications.outbox import EMAIL  # one definition of an address

    if email is not None and not EMAIL.fullmatch(email):
        raise ValueError(f"{email!r} is not one e-mail address")


def set_email(wh: Warehouse, user_id: str, *, email: str | None, changed_by: str, reason: str,
              meaning: str | None = None) -> None:
    """Where notifications reach the user (None: nowhere); audited with old and new values."""
    before = wh.query("sql/users_list")
    row = before[before["user_id"] == user_id]
    if row.empty:
        raise ValueError(f"no user {user_id!r}")
    check_email(email)
    if not (reason or "").strip():
        raise ValueError("a reason is required")
    with wh.transaction() as conn:
        wh.run(conn, "sql/user_set_email", {"user_id": user_id, "email": email})
        audit.append(wh, user_id=changed_by, action="user_email_changed", object_type="user", object_id=user_id,
                     reason=reason.strip(), old_value=f"email={row.iloc[0].get('email')}", new_value=f"email={email}",
                     meaning=meaning, conn=conn)


def set_active(wh: Warehouse, user_id: str, *, active: bool, changed_by: str, reason: str,
               meaning: str | None = None) -> UserRecord:
    """Deactivate or reactivate an account; ends its sessions; audited with old and new values."""
    before = get_user(wh, user_id)
    if before is None:
        raise ValueError(f"no user {user_id!r}")
    if not (reason or "").strip():
        raise ValueError("a reason is required")
    with wh.transaction() as conn:
        wh.run(conn, "sql/user_set_active", {"user_id": user_id, "active": bool(active)})
        audit.append(wh, user_id=changed_by, action="user_activated" if active else "user_deactivated",
                     object_type="user", object_id=user_id, reason=reason.strip(),
                     old_value=f"active={before.active}", new_value=f"active={bool(active)}", meaning=meaning,
                     conn=conn)
    _changed(wh, user_id)
    return get_user(wh, user_id)


def set_password(wh: Warehouse, user_id: str, *, password: str, changed_by: str, reason: str,
                 meaning: str | None = None) -> UserRecord:
    """Reset a user's password (same rules as a new account); ends their sessions; audited without the
    password or its hash."""
    before = get_user(wh, user_id)
    if before is None:
        raise ValueError(f"no user {user_id!r}")
    if not (reason or "").strip():
        raise ValueError("a reason is required")
    check_password(password)
    with wh.transaction() as conn:
        wh.run(conn, "sql/user_reset_password", {"user_id": user_id, "password_hash": _hasher.hash(password)})
        audit.append(wh, user_id=changed_by, action="user_password_reset", object_type="user", object_id=user_id,
                     reason=reason.strip(), meaning=meaning, conn=conn)
    _changed(wh, user_id)
    return get_user(wh, user_id)
