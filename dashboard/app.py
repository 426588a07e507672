"""App factory: Flask server first, then the auth guard, then Dash with its page registry."""

from __future__ import annotations

import logging
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import Flask
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import errors, ids, inputs
from dashboard.auth import init_auth
from dashboard.caching import init_cache
from dashboard.context import PAGE_ROLES, home
from dashboard.kiosk_auth import after_auth as kiosk_after_auth
from dashboard.kiosk_auth import init_kiosk_auth
from ingest.live import start_live_ingest
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
ROLE_LABELS = {"leadership": "Quality leadership", "site_manager": "Site manager", "auditor": "Auditor",
               "display": "Wall display", "admin": "Administrator"}


def create_app(settings: Settings | None = None, warehouse: Warehouse | None = None) -> dash.Dash:
    """Build the whole app. Nothing connects at import time; the warehouse opens here (after fork)."""
    settings = settings or Settings.from_env()
    server = Flask(__name__)
    if settings.trusted_proxies:  # scheme, host and client address as the proxy in front received them
        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)
    server.extensions["atmp_settings"] = settings
    server.extensions["atmp_warehouse"] = warehouse or Warehouse(
        settings.database_url, row_cap=settings.row_cap, statement_timeout_ms=settings.statement_timeout_ms)
    _record_settings(server)
    init_kiosk_auth(server)  # before the guard: a kiosk page load may sign in from its cookie
    init_auth(server)
    kiosk_after_auth(server)  # after the guard: a revoked display token ends its session
    # Every callback request checked and its values normalised, before the response cache keys on them
    # (dashboard/inputs.py).
    inputs.init_input_checks(server)
    # Cached KPI answers and read-only callback responses, after the guard (dashboard/caching.py).
    init_cache(server, settings, server.extensions["atmp_warehouse"])

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        assets_folder=str(ROOT / "assets"),
        title="ATMP Quality Hub",
        update_title=None,
        serve_locally=True,
        # Multi-page app whose layouts are functions of the logged-in user: callbacks of one page
        # name components that other pages' layouts hold. tests/test_callbacks_wired.py checks that
        # every callback id exists in some page's layout instead.
        suppress_callback_exceptions=True,
        on_error=errors.on_callback_error,
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    app.layout = shell
    errors.register(app)
    server.extensions["atmp_callback_map"] = app.callback_map  # for dashboard/inputs.py
    # Built per response: Dash registers the page router's clientside callback (an inline script
    # that needs its hash) only when it sets itself up on its first request.
    server.extensions["atmp_csp"] = lambda: content_security_policy(app)
    # Live monitoring: embedded simulator or in-app MQTT bridge, as the settings ask (ingest/live.py).
    server.extensions["atmp_live"] = start_live_ingest(settings, server.extensions["atmp_warehouse"])
    # Notifications: the outbox's dispatcher in this process (notify/dispatcher.py), unless run on its own.
    from notify.dispatcher import start_in_app

    server.extensions["atmp_notify"] = start_in_app(settings, server.extensions["atmp_warehouse"])
    # The import page's file uploads, streamed to disk (dashboard/import_upload.py).
    from dashboard.import_upload import init_upload_route

    init_upload_route(server)
    # The validation reports' files, served while they keep their registered SHA-256 (dashboard/validation_files.py).
    from dashboard.validation_files import init_report_route

    init_report_route(server)
    # The network overview computed ahead, so the first sign-in after a start finds it (dashboard/prewarm.py).
    from dashboard import prewarm

    server.extensions["atmp_prewarm"] = prewarm.start(server)
    if settings.import_drop_dir:  # the drop folder, watched in-process (the one process a DuckDB file admits)
        from queries.imports import drop_folder

        server.extensions["atmp_drop_folder"] = drop_folder.start_watching(
            server.extensions["atmp_warehouse"], Path(settings.import_drop_dir))
    return app


def _record_settings(server: Flask) -> None:
    """Settings changed since the last start go to the audit trail (queries/records/settings_audit.py)."""
    from queries.records.settings_audit import record_if_changed

    try:
        record_if_changed(server.extensions["atmp_warehouse"], server.extensions["atmp_settings"])
    except Exception as exc:  # no schema yet (serve before generate): nothing to compare with
        logger.warning("settings not recorded in the audit trail: %s", exc)


def content_security_policy(app: dash.Dash) -> str:
    # Dash's own inline scripts are allowed by hash; style-src needs 'unsafe-inline' for Dash/plotly.
    script_hashes = " ".join(app.csp_hashes())  # already quoted: 'sha256-...'
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' {script_hashes}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def shell():
    """The layout of every page: navigation for the user's role, the user, and the page itself."""
    return html.Div([
        dcc.Location(id=ids.URL),
        # The first stop of the keyboard: past the navigation to the page (shown only when focused).
        html.A("Skip to main content", href="#main", className="visually-hidden-focusable skip-link",
               id="skip-link"),
        navbar(),
        errors.banners(),
        html.Main(dbc.Container(dash.page_container, fluid=True, className="page-body"), id="main", tabIndex="-1"),
    ])


def navbar():
    role = current_user.role if current_user and current_user.is_authenticated else None
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
        if page.get("nav") and role in PAGE_ROLES.get(page["path"], ())
    ]
    who = []
    if role:
        who = [
            html.Span([html.Strong(current_user.display_name), f" · {ROLE_LABELS[role]}",
                       f" · site {current_user.site_id}" if current_user.site_id else ""],
                      className="navbar-text me-3 text-light", id="whoami"),
            html.Form(html.Button("Sign out", type="submit", className="btn btn-outline-light btn-sm"),
                      method="POST", action="/logout"),
        ]
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand("ATMP Quality Hub", href=home(role)),
            dbc.Nav(links, navbar=True, className="me-auto"),
            html.Div(who, className="d-flex align-items-center"),
        ], fluid=True),
        color="dark", dark=True, id=ids.NAVBAR, className="mb-3",
    )
