"""Signed administration from the admin pages: users (add, role or site, deactivate or activate, password
reset) and display tokens (create, revoke).

Who acts is an id the web layer takes from the session; it is read again here and must be an active
administrator. Everything else came from the browser and is checked as such (type, length, that the
named user or token exists). A change needs a reason and the administrator's electronic signature
(queries/records/esignature.py: the password re-entered, attempts limited by the caller); it is then made through
queries/records/users.py or queries/records/display_tokens.py, which write it and its audit entry, with the meaning of
the signature, in one transaction. Refusals of a non-administrator, of a user or token that does not
exist, and of a change that would leave no active administrator are audited as admin_change_refused;
plain input mistakes (no reason, a short password) are only shown."""

from __future__ import annotations

import logging
from collections.abc import Callable

from queries.engine.warehouse import Warehouse
from queries.records import display_tokens, esignature, users
from queries.records.display_tokens import NewToken
from queries.records.users import UserRecord

logger = logging.getLogger(__name__)

USERS_MEANING = "Administration: I authorise this change to a user account; the reason given is mine."
TOKENS_MEANING = ("Administration: I authorise this change to a wall display's sign-in token; the reason given "
                  "is mine.")
REASON_MAX = 1000
LABEL_MAX = 100
REFUSED = "admin_change_refused"


class Refused(PermissionError):
    """Not done: the message says why (shown to the administrator)."""


class NotAdmin(Refused):
    """The signed-in user is not an active administrator (the web layer answers 403)."""


def _sentence(error: ValueError) -> str:
    text = str(error)
    return text[:1].upper() + text[1:] + "."


def _storable(value) -> bool:
    """Text the warehouse can store: no NUL, no lone surrogate (no UTF-8 for it; DuckDB refuses it)."""
    return isinstance(value, str) and "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value)


def _text(value, limit: int) -> str:
    """A browser value as stripped text ('' for anything but storable text), cut to ``limit``."""
    return value.strip()[:limit] if _storable(value) else ""


def _named(value) -> str | None:
    """What the browser named, fit for the audit trail (anything odd as its escaped repr)."""
    if value is None or value == "":
        return None
    return (value if _storable(value) else ascii(value))[:100]


def _refuse(wh: Warehouse, actor_id: str, message: str, why: str, object_type: str, object_id) -> Refused:
    esignature.audit_refusal(wh, user_id=actor_id, action=REFUSED, object_type=object_type,
                             object_id=_named(object_id), reason=why)
    return Refused(message)


def _admin(wh: Warehouse, actor_id: str, object_type: str, object_id) -> UserRecord:
    """The acting administrator, read from the warehouse now (a role changed a second ago counts)."""
    actor = users.get_user(wh, actor_id) if isinstance(actor_id, str) else None
    if actor is None or not actor.active or actor.role != "admin":
        role = actor.role if actor else "unknown"
        esignature.audit_refusal(wh, user_id=actor_id if isinstance(actor_id, str) else None, action=REFUSED,
                                 object_type=object_type, object_id=_named(object_id),
                                 reason=f"role {role} may not administer users or display tokens")
        raise NotAdmin("Only an administrator may change users and display tokens.")
    return actor


def _reason(value) -> str:
    why = _text(value, REASON_MAX + 1)
    if not why:
        raise Refused("A reason is required: say why this change is made (ticket, request, event).")
    if len(why) > REASON_MAX:
        raise Refused(f"The reason is limited to {REASON_MAX} characters.")
    return why


def _target(wh: Warehouse, actor: UserRecord, user_id) -> UserRecord:
    target = users.get_user(wh, user_id) if _storable(user_id) and 0 < len(user_id) <= 200 else None
    if target is None:
        if not user_id:
            raise Refused("Choose a user.")
        raise _refuse(wh, actor.user_id, "User not found (reload the page).", "no such user", "user", user_id)
    return target


def _keeps_an_admin(wh: Warehouse, actor: UserRecord, target: UserRecord, what: str) -> None:
    """Refuse a change that takes the last active administrator away (demoting or deactivating)."""
    listed = wh.query("sql/users_list")
    admins = set(listed.loc[(listed["role"] == "admin") & listed["active"].astype(bool), "user_id"])
    if target.user_id in admins and not admins - {target.user_id}:
        who = "yourself" if target.user_id == actor.user_id else target.user_id
        raise _refuse(wh, actor.user_id, f"Refused: you would {what} {who}, the last active administrator. "
                      "Add another administrator first.", f"would leave no active administrator ({what})",
                      "user", target.user_id)


def _sign(wh: Warehouse, actor: UserRecord, password, object_type: str, object_id: str, meaning: str,
          attempt_allowed: Callable[[], bool] | None) -> None:
    try:
        esignature.check(wh, user_id=actor.user_id, password=password if _storable(password) else None,
                         object_type=object_type, object_id=object_id, meaning=meaning,
                         attempt_allowed=attempt_allowed)
    except esignature.SignatureFailed as failed:
        raise Refused(str(failed)) from None


def _password(value):
    if isinstance(value, str) and not _storable(value):
        raise ValueError("the password holds characters that cannot be stored (NUL or a broken character)")
    return value


def _site(value) -> str | None:
    site = _text(value, 40)
    return site or None


def add_user(wh: Warehouse, *, actor_id: str, user_id, display_name, role, site_id, initial_password, reason,
             password, attempt_allowed: Callable[[], bool] | None = None) -> UserRecord:
    """A new account with the role (and site, for a site manager only) and an initial password."""
    actor = _admin(wh, actor_id, "user", user_id)
    new_id = user_id.strip() if _storable(user_id) else None
    name = _text(display_name, users.NAME_MAX + 1) or new_id
    try:
        users.check_new_user(wh, user_id=new_id, role=role, site_id=_site(site_id))
        users.check_password(_password(initial_password))
    except ValueError as bad:
        raise Refused(_sentence(bad)) from None
    if len(name) > users.NAME_MAX:
        raise Refused(f"The name is limited to {users.NAME_MAX} characters.")
    why = _reason(reason)
    _sign(wh, actor, password, "user", new_id, USERS_MEANING, attempt_allowed)
    try:
        added = users.add_user(wh, user_id=new_id, display_name=name, role=role, site_id=_site(site_id),
                               password=initial_password, added_by=actor.user_id, reason=why, meaning=USERS_MEANING)
    except ValueError as bad:  # added by someone else between the check and now
        raise Refused(_sentence(bad)) from None
    logger.info("user %s (%s) added by %s", added.user_id, added.role, actor.user_id)
    return added


def change_role(wh: Warehouse, *, actor_id: str, user_id, role, site_id, reason, password,
                attempt_allowed: Callable[[], bool] | None = None) -> UserRecord:
    """A new role (and site, for a site manager only); the user's sessions end."""
    actor = _admin(wh, actor_id, "user", user_id)
    target = _target(wh, actor, user_id)
    site = _site(site_id)
    try:
        users.check_role(wh, role, site)
    except ValueError as bad:
        raise Refused(_sentence(bad)) from None
    if (target.role, target.site_id) == (role, site):
        raise Refused(f"{target.user_id} already has this role{' and site' if site else ''}: nothing to change.")
    if role != "admin":
        _keeps_an_admin(wh, actor, target, "demote")
    why = _reason(reason)
    _sign(wh, actor, password, "user", target.user_id, USERS_MEANING, attempt_allowed)
    changed = users.set_role(wh, target.user_id, role=role, site_id=site, changed_by=actor.user_id, reason=why,
                             meaning=USERS_MEANING)
    logger.info("user %s now %s (site %s), by %s", changed.user_id, changed.role, changed.site_id, actor.user_id)
    return changed


def set_active(wh: Warehouse, *, actor_id: str, user_id, active: bool | None, reason, password,
               attempt_allowed: Callable[[], bool] | None = None) -> UserRecord:
    """Deactivate (``active`` False) or reactivate (True) an account; its sessions end either way. None:
    the administrator chose neither."""
    actor = _admin(wh, actor_id, "user", user_id)
    target = _target(wh, actor, user_id)
    if not isinstance(active, bool):
        raise Refused("Choose deactivate or activate.")
    if target.active == active:
        raise Refused(f"{target.user_id} is already {'active' if active else 'deactivated'}.")
    if not active:
        _keeps_an_admin(wh, actor, target, "deactivate")
    why = _reason(reason)
    _sign(wh, actor, password, "user", target.user_id, USERS_MEANING, attempt_allowed)
    changed = users.set_active(wh, target.user_id, active=active, changed_by=actor.user_id, reason=why,
                               meaning=USERS_MEANING)
    logger.info("user %s %s by %s", changed.user_id, "activated" if active else "deactivated", actor.user_id)
    return changed


def reset_password(wh: Warehouse, *, actor_id: str, user_id, new_password, reason, password,
                   attempt_allowed: Callable[[], bool] | None = None) -> UserRecord:
    """A new password (the rules of a new account); the user's sessions end."""
    actor = _admin(wh, actor_id, "user", user_id)
    target = _target(wh, actor, user_id)
    try:
        users.check_password(_password(new_password))
    except ValueError as bad:
        raise Refused("The new " + str(bad) + ".") from None
    why = _reason(reason)
    _sign(wh, actor, password, "user", target.user_id, USERS_MEANING, attempt_allowed)
    changed = users.set_password(wh, target.user_id, password=new_password, changed_by=actor.user_id, reason=why,
                                 meaning=USERS_MEANING)
    logger.info("password of %s reset by %s", changed.user_id, actor.user_id)
    return changed


def set_email(wh: Warehouse, *, actor_id: str, user_id, email, reason, password,
              attempt_allowed: Callable[[], bool] | None = None) -> tuple[str, str | None]:
    """Where notifications reach a user (empty: nowhere); (user id, address)."""
    actor = _admin(wh, actor_id, "user", user_id)
    target = _target(wh, actor, user_id)
    address = _text(email, 300) or None
    why = _reason(reason)
    try:
        users.check_email(address)
    except ValueError as bad:
        raise Refused(_sentence(bad)) from None
    _sign(wh, actor, password, "user", target.user_id, USERS_MEANING, attempt_allowed)
    users.set_email(wh, target.user_id, email=address, changed_by=actor.user_id, reason=why, meaning=USERS_MEANING)
    logger.info("notification address of %s set by %s", target.user_id, actor.user_id)
    return target.user_id, address


def create_token(wh: Warehouse, *, actor_id: str, user_id, label, reason, password,
                 attempt_allowed: Callable[[], bool] | None = None) -> NewToken:
    """A display token for an active user with the display role; the token is returned once, to show."""
    actor = _admin(wh, actor_id, "display_token", user_id)
    target = _target(wh, actor, user_id)
    if target.role != "display" or not target.active:
        raise Refused(f"Display tokens are for active users with the display role; {target.user_id} is "
                      f"{target.role}{'' if target.active else ' (deactivated)'}.")
    where = _text(label, LABEL_MAX + 1)
    if not where:
        raise Refused("A label is required: where the screen is, e.g. 'QA corridor TV'.")
    if len(where) > LABEL_MAX:
        raise Refused(f"The label is limited to {LABEL_MAX} characters.")
    why = _reason(reason)
    _sign(wh, actor, password, "display_token", target.user_id, TOKENS_MEANING, attempt_allowed)
    new = display_tokens.create(wh, user_id=target.user_id, label=where, created_by=actor.user_id, reason=why,
                                meaning=TOKENS_MEANING)
    logger.info("display token %s for %s created by %s", new.token_id, target.user_id, actor.user_id)
    return new


def revoke_token(wh: Warehouse, *, actor_id: str, token_id, reason, password,
                 attempt_allowed: Callable[[], bool] | None = None) -> str:
    """Revoke an active token; screens using it are signed out at their next request."""
    actor = _admin(wh, actor_id, "display_token", token_id)
    if not isinstance(token_id, str) or not token_id:
        raise Refused("Choose a token to revoke.")
    if not (_storable(token_id) and len(token_id) <= 100 and display_tokens.is_active(wh, token_id)):
        raise _refuse(wh, actor.user_id, "No active display token with this id (reload the page).",
                      "no active token", "display_token", token_id)
    why = _reason(reason)
    _sign(wh, actor, password, "display_token", token_id, TOKENS_MEANING, attempt_allowed)
    if not display_tokens.revoke(wh, token_id, revoked_by=actor.user_id, reason=why, meaning=TOKENS_MEANING):
        raise Refused("This token was revoked a moment ago.")
    logger.info("display token %s revoked by %s", token_id, actor.user_id)
    return token_id

