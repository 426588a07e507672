"""Login, logout, the one guard in front of every route, idle timeout, CSRF origin check, headers."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from functools import partial
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
)
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from limits import parse as parse_limit

from dashboard.context import home
from ingest import readiness
from queries.engine.warehouse import Warehouse, WarehouseUnavailable
from queries.records import audit, users
from queries.records.users import UserRecord

logger = logging.getLogger(__name__)

# Paths anyone may fetch: the login form, static assets, Dash's JS bundles, a health probe.
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/readyz", "/_favicon.ico", "/favicon.ico",
                          "/kiosk/login"})  # wall displays sign in with a token: dashboard/kiosk_auth.py
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

bp = Blueprint("auth", __name__)
READY_TIMEOUT_S = 2.0
OUTAGE_GRACE_S = 300
_recently_verified: dict[str, tuple[float, UserRecord]] = {}  # session id -> (verified at, record)
# Login attempts are limited per client address and per user name; the store is shared between
# workers when ATMP_RATE_LIMIT_STORAGE points at Redis (memory:// counts per process).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _login_name() -> str:
    return "user:" + (request.form.get("username") or "").strip().lower()[:100]


class SessionUser(UserMixin):
    """The logged-in user, re-read from the warehouse on every request (role changes apply at once)."""

    def __init__(self, record: UserRecord):
        self.record = record

    def get_id(self) -> str:
        # The session version is part of the id: bumping it on the server ends every copy of the cookie.
        return f"{self.record.user_id}:{self.record.session_version}"

    @property
    def user_id(self) -> str:
        return self.record.user_id

    @property
    def role(self) -> str:
        return self.record.role

    @property
    def site_id(self) -> str | None:
        return self.record.site_id

    @property
    def display_name(self) -> str:
        return self.record.display_name


def warehouse() -> Warehouse:
    return current_app.extensions["atmp_warehouse"]


def settings():
    return current_app.extensions["atmp_settings"]


def init_auth(server: Flask) -> None:
    cfg = server.extensions["atmp_settings"]
    server.config.update(
        SECRET_KEY=cfg.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=cfg.secure_cookies,
        SESSION_COOKIE_NAME="atmp_session",
        REMEMBER_COOKIE_DURATION=0,
    )
    manager = LoginManager()
    manager.session_protection = "strong"
    manager.init_app(server)

    @manager.user_loader
    def _load(session_id: str):
        user_id, _, version = session_id.rpartition(":")
        try:
            record = users.get_user_recent(warehouse(), user_id)
        except WarehouseUnavailable:
            # During a warehouse outage a session verified in the last few minutes keeps its identity,
            # so pages can say what is wrong; no data can be read anyway. Older sessions get a 503.
            cached = _recently_verified.get(session_id)
            if cached and time.time() - cached[0] < OUTAGE_GRACE_S:
                return SessionUser(cached[1])
            raise
        if record is None or not record.active or str(record.session_version) != version:
            _recently_verified.pop(session_id, None)
            return None
        _recently_verified[session_id] = (time.time(), record)
        return SessionUser(record)

    # A moving window: a fixed one lets twice the limit through across a minute boundary.
    server.config.update(RATELIMIT_STORAGE_URI=cfg.rate_limit_storage, RATELIMIT_HEADERS_ENABLED=True,
                         RATELIMIT_STRATEGY="moving-window")
    limiter.init_app(server)
    server.register_blueprint(bp)
    server.register_error_handler(RateLimitExceeded, _too_many_attempts)
    server.register_error_handler(WarehouseUnavailable, _warehouse_down)
    server.before_request(_guard)
    server.after_request(_security_headers)


# A component suite file is /_dash-component-suites/<package>/<file>.<static extension>; anything else
# under the prefix (one segment, '..') reaches Dash's catch-all route, which serves the app shell with
# the Dash, plotly and Python versions, or fails: it needs a login like every other page.
COMPONENT_FILE = re.compile(r"^/_dash-component-suites/[A-Za-z0-9_.-]+/[A-Za-z0-9_./@-]+"
                            r"\.(?:js|css|map|json|woff2?|ttf|eot|svg|png|ico)$")


def _is_public(path: str) -> bool:
    if path in PUBLIC_PATHS or path.startswith("/assets/"):
        return True
    return path.startswith("/_dash-component-suites/") and ".." not in path and bool(COMPONENT_FILE.match(path))


def _deny(path: str, reason: str):
    if path.startswith("/_"):  # Dash's internal endpoints and _reload-hash: JSON, never a redirect
        return jsonify(error=reason), 401
    return redirect(f"/login?next={path}")


def _only_ticks(payload) -> bool:
    """True when a Dash update was fired only by interval timers (not by the user). Any body may arrive
    here: the shape of a callback request is checked after the guard (dashboard/inputs.py)."""
    changed = payload.get("changedPropIds") if isinstance(payload, dict) else None
    return isinstance(changed, list) and bool(changed) and all(str(p).endswith(".n_intervals") for p in changed)


def _guard():
    path = request.path
    if request.method in STATE_CHANGING and not _same_origin():
        return jsonify(error="cross-origin request refused"), 403
    if path == "/_dash-update-component" and not request.is_json:
        return jsonify(error="application/json required"), 415
    if _is_public(path):
        return None
    if not current_user.is_authenticated:
        return _deny(path, "login required")
    now = time.time()
    idle_limit = settings().idle_timeout_min * 60
    last_seen = session.get("last_seen", now)
    if now - last_seen > idle_limit and current_user.role != "display":
        audit.append(warehouse(), user_id=current_user.user_id, action="session_timeout",
                     reason=f"idle for more than {settings().idle_timeout_min} min")
        users.end_sessions(warehouse(), current_user.user_id)
        logout_user()
        session.clear()
        return _deny(path, "session timed out")
    ticks_only = path == "/_dash-update-component" and _only_ticks(request.get_json(silent=True) or {})
    if not ticks_only:  # timer ticks must not keep an unattended session alive
        session["last_seen"] = now
    return None


def _same_origin() -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return False
    sent = urlsplit(origin)  # scheme too: https://host is not the origin of an http server
    return sent.netloc == request.host and sent.scheme == request.scheme


def _security_headers(response: Response) -> Response:
    build_csp = current_app.extensions.get("atmp_csp")
    if build_csp:
        response.headers["Content-Security-Policy"] = build_csp()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Referrer-Policy", "same-origin")  # a page may ask for less
    if request.path in ("/login",) or request.path.startswith("/_dash-update-component"):
        response.headers["Cache-Control"] = "no-store"
    return response


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · ATMP Quality Hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/vendor/bootstrap.min.css"><link rel="stylesheet" href="/assets/hub.css">
</head><body class="login-body">
<main class="login-card card shadow-sm">
  <div class="card-body">
    <h1 class="h4 mb-1">ATMP Quality Hub</h1>
    <p class="text-body-secondary mb-4">Network quality for cell and gene therapy manufacturing</p>
    {% if error %}<div class="alert alert-danger" role="alert">⚠ {{ error }}</div>{% endif %}
    {% if notice %}<div class="alert alert-info" role="status">{{ notice }}</div>{% endif %}
    <form method="post" action="/login">
      <input type="hidden" name="next" value="{{ next }}">
      <label class="form-label" for="username">User name</label>
      <input class="form-control mb-3" id="username" name="username" autocomplete="username" required autofocus>
      <label class="form-label" for="password">Password</label>
      <input class="form-control mb-4" id="password" name="password" type="password"
             autocomplete="current-password" required>
      <button class="btn btn-primary w-100" type="submit">Sign in</button>
    </form>
  </div>
</main></body></html>"""


def _safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _landing(role: str, target: str | None) -> str:
    """After signing in: the page asked for, else the role's home (an administrator, who sees no quality
    data, lands on /admin/users rather than on a network overview that refuses them)."""
    path = _safe_next(target)
    return home(role) if path == "/" else path


def _warehouse_down(exc: WarehouseUnavailable):
    logger.error("%s", exc)
    message = "The data warehouse is not reachable. Please try again in a minute."
    if request.path.startswith("/_"):
        return jsonify(error=message), 503
    return render_template_string(LOGIN_PAGE, error=message, notice=None, next="/"), 503


def _too_many_attempts(exc: RateLimitExceeded):
    audit.append(warehouse(), user_id=_login_name()[5:] or None, action="login_rate_limited",
                 reason=f"more than {exc.limit.limit} from {request.remote_addr}")
    return render_template_string(LOGIN_PAGE, error="Too many sign-in attempts. Wait a minute and try again.",
                                  notice=None, next="/"), 429


def signature_attempt(user_id: str) -> bool:
    """Count one electronic-signature attempt of the signed-in user (the store the login limits use);
    False when over ATMP_ESIGNATURE_RATE_PER_USER."""
    return limiter.limiter.hit(parse_limit(settings().esignature_rate_per_user), "esignature", user_id)


def signature_attempts_of(user_id: str) -> Callable[[], bool]:
    """The `attempt_allowed` every signed form hands to queries/esignature.check: counts one attempt
    of this signer each time it is asked."""
    return partial(signature_attempt, user_id)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: settings().login_rate_per_address, methods=["POST"])
@limiter.limit(lambda: settings().login_rate_per_user, key_func=_login_name, methods=["POST"])
def login():
    notice = "You have been signed out." if request.args.get("signed_out") else None
    if request.method == "GET":
        return render_template_string(LOGIN_PAGE, error=None, notice=notice,
                                      next=_safe_next(request.args.get("next")))
    username = (request.form.get("username") or "").strip()[:100]
    password = request.form.get("password") or ""
    record = users.verify_password(warehouse(), username, password) if username and password else None
    if record is None:
        audit.append(warehouse(), user_id=username or None, action="login_failed",
                     reason="unknown user, wrong password or inactive account")
        # One message for every failure: it must not reveal whether the user exists.
        return render_template_string(LOGIN_PAGE, error="Sign-in failed: check user name and password.",
                                      notice=None, next=_safe_next(request.form.get("next"))), 401
    session.clear()
    login_user(SessionUser(record), remember=False)
    session["last_seen"] = time.time()
    audit.append(warehouse(), user_id=record.user_id, action="login", new_value=json.dumps(
        {"role": record.role, "site_id": record.site_id}))
    return redirect(_landing(record.role, request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        audit.append(warehouse(), user_id=current_user.user_id, action="logout")
        users.end_sessions(warehouse(), current_user.user_id)
        logout_user()
    session.clear()
    return redirect("/login?signed_out=1")


@bp.route("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    """Ready only while the warehouse answers `SELECT 1` within 2 s (ingest/readiness.py); 503 and the
    kind of failure otherwise, never the connection string. Answers are reused for 1 s."""
    problem = readiness.probe(warehouse(), READY_TIMEOUT_S, max_age_s=1.0)
    response = jsonify(ready=True) if problem is None else (jsonify(ready=False, reason=problem), 503)
    response = current_app.make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response
