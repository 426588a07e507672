"""What a callback may know: the logged-in user and the scope the server builds from it."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask_login import current_user
from werkzeug.exceptions import Forbidden, Unauthorized

from queries.engine.scope import Scope, build_scope
from queries.engine.warehouse import Warehouse

# Which roles may open which page (path template as registered); the guard in auth.py already
# requires a login for everything, this narrows by role.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "/": frozenset({"leadership", "site_manager", "auditor", "display"}),
    "/site/<site_id>": frozenset({"leadership", "site_manager", "auditor"}),
    # Record pages: a site manager opens the records of the own site only (checked per record).
    "/deviation/<deviation_id>": frozenset({"leadership", "site_manager", "auditor"}),
    "/batch/<batch_id>": frozenset({"leadership", "site_manager", "auditor"}),
    "/capa/<capa_id>": frozenset({"leadership", "site_manager", "auditor"}),
    "/excursion/<excursion_id>": frozenset({"leadership", "site_manager", "auditor"}),
    "/definitions": frozenset({"leadership", "site_manager", "auditor", "display", "admin"}),
    "/admin/users": frozenset({"admin"}),
    "/admin/display-tokens": frozenset({"admin"}),
    "/audit": frozenset({"auditor", "admin"}),
    # Data stewards import; a site manager the own site's rows only (checked row by row on the server).
    "/import": frozenset({"leadership", "site_manager", "admin"}),
    # Wall display in kiosk mode (dashboard/pages/kiosk.py): the display role, and leadership to set it up.
    "/kiosk": frozenset({"display", "leadership"}),
    # Signals and comparability: site managers see their own site, other sites only pooled/anonymised.
    "/signals": frozenset({"leadership", "site_manager", "auditor"}),
    "/comparability": frozenset({"leadership", "site_manager", "auditor"}),
    # People (culture and training): site managers see their own site and anonymised network values.
    "/people": frozenset({"leadership", "site_manager", "auditor"}),
    # Live monitoring: the wall display sees tiles and excursions (no names); acknowledging is
    # checked per excursion (leadership, or the site manager of the excursion's site).
    "/monitoring": frozenset({"leadership", "site_manager", "auditor", "display"}),
    "/monitoring/<site_id>": frozenset({"leadership", "site_manager", "auditor", "display"}),
    # Notifications: rules and deliveries of the whole network; leadership and administrators change rules
    # (checked again on the server), auditors read.
    "/notifications": frozenset({"leadership", "admin", "auditor"}),
    # Validation reports (`atmp-hub validate`): quality leadership reviews and approves them (checked again on
    # the server), auditors and administrators read them.
    "/validation": frozenset({"leadership", "auditor", "admin"}),
    # The link in an excursion's message: those who may acknowledge (the site is checked per excursion).
    "/ack/<token>": frozenset({"leadership", "site_manager"}),
}
WINDOW_CHOICES = (30, 90, 180, 365)
# Where a role lands after signing in (and what "/" points to when the role may not open it).
HOME: dict[str, str] = {"admin": "/admin/users"}


def home(role: str | None) -> str:
    return HOME.get(role or "", "/")


def warehouse() -> Warehouse:
    return current_app.extensions["atmp_warehouse"]


def settings():
    return current_app.extensions["atmp_settings"]


def user():
    """The logged-in user; raises 401 if there is none (the guard should have stopped it first)."""
    if not current_user or not current_user.is_authenticated:
        raise Unauthorized("login required")
    return current_user


def require_page(path_template: str):
    """The user, if their role may see this page; 403 otherwise."""
    u = user()
    if u.role not in PAGE_ROLES[path_template]:
        raise Forbidden(f"role {u.role} may not open {path_template}")
    return u


def allowed(path_template: str) -> bool:
    return bool(current_user and current_user.is_authenticated and current_user.role in PAGE_ROLES[path_template])


def denied_page():
    """What a page layout shows a role that may not open it (callbacks answer 403 instead): links to the
    pages the role may open, never back to a page that refuses it."""
    import dash
    from dash import dcc, html

    role = current_user.role if current_user and current_user.is_authenticated else None
    pages = [page for page in dash.page_registry.values()
             if page.get("nav") and role in PAGE_ROLES.get(page.get("path_template") or page["path"], ())]
    links = html.Ul([html.Li(dcc.Link(page["name"], href=page["relative_path"])) for page in pages],
                    id="page-denied-links") if pages else None
    return html.Div([html.H1("Not available for your role", className="h3"),
                     html.P("Your role does not give access to this page."
                            + (" Pages for your role:" if pages else "")),
                     links], id="page-denied")


def now() -> datetime:
    pinned = settings().now
    if pinned:
        return datetime.fromisoformat(pinned).replace(tzinfo=None)
    return datetime.now(UTC).replace(tzinfo=None)


def ack_followup_url() -> str | None:
    """What an acknowledgement passes as `tell_notified`: the hub's public address when those already
    notified of an excursion are to hear of its acknowledgement (ATMP_NOTIFY_ON_ACK), else None."""
    chosen = settings()
    return chosen.public_url if chosen.notify_on_ack else None


def window_days(value) -> int:
    """A window from the browser is only ever one of the offered choices."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return settings().default_window_days
    return days if days in WINDOW_CHOICES else settings().default_window_days


def scope(days=None, path_template: str = "/") -> Scope:
    """The scope of the current user for a page; nothing the browser sends can widen it."""
    u = require_page(path_template)
    all_sites = list(warehouse().query("sql/site_ids")["site_id"])
    return build_scope(user_id=u.user_id, role=u.role, own_site=u.site_id, all_sites=all_sites,
                       end=now(), days=window_days(days))
