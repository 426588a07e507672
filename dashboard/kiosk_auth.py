"""Wall displays sign in with a display token, not a password: /kiosk/login, session resume, revocation.

- `/kiosk/login?token=...&pages=...` shows a one-button form holding the token; only its POST (same
  origin, like every state-changing request) signs the display user in. A GET never signs anyone in, so
  a link cannot replace a visitor's session. The POST (or the token typed into the empty form) remembers
  the token in an HttpOnly cookie limited to /kiosk and redirects to /kiosk without it in the address.
- A kiosk page load without a session (server restarted, or the session ended) signs in again from
  that cookie, so a screen on the wall comes back by itself after its periodic reload.
- Every request of a token session checks the token is still active: revoking it ends the session at
  the screen's next request, including Dash callbacks.
Token use, refusals and the resulting logouts are written to the audit trail."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template_string, request, session
from flask_login import current_user, login_user, logout_user

from dashboard.auth import SessionUser, limiter
from queries.records import audit, display_tokens

logger = logging.getLogger(__name__)

COOKIE = "atmp_kiosk"
COOKIE_PATH = "/kiosk"
COOKIE_MAX_AGE_S = 400 * 24 * 3600  # browsers cap cookie lifetime at 400 days
SESSION_KEY = "display_token"
KIOSK_PARAMS = ("pages", "interval", "reload", "refresh")
PUBLIC_PATHS = frozenset({"/kiosk/login"})

bp = Blueprint("kiosk_auth", __name__)


def _wh():
    return current_app.extensions["atmp_warehouse"]


def init_kiosk_auth(server: Flask) -> None:
    """Register the routes and hooks. Call before init_auth: the resume hook must run before the guard."""
    server.register_blueprint(bp)
    server.before_request(_resume_from_cookie)


def after_auth(server: Flask) -> None:
    """Hooks that must run after the guard (they need the logged-in user)."""
    server.before_request(_check_token_still_active)


def _kiosk_query() -> str:
    params = {k: request.values.get(k) for k in KIOSK_PARAMS if request.values.get(k)}
    return f"?{urlencode(params)}" if params else ""


def _sign_in(token: str | None, *, how: str):
    """Log the token's display user in; None (and an audit entry) if the token is not valid."""
    found = display_tokens.authenticate(_wh(), token)
    if found is None:
        audit.append(_wh(), user_id=None, action="display_token_refused", object_type="display_token",
                     object_id=display_tokens.token_id_of(token) or "(malformed)", reason=how)
        return None
    token_id, user = found
    session.clear()
    login_user(SessionUser(user), remember=False)
    session["last_seen"] = time.time()
    session[SESSION_KEY] = token_id
    audit.append(_wh(), user_id=user.user_id, action="display_token_login", object_type="display_token",
                 object_id=token_id, reason=how)
    return token_id


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wall display sign-in · ATMP Quality Hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/vendor/bootstrap.min.css"><link rel="stylesheet" href="/assets/hub.css">
</head><body class="login-body">
<main class="login-card card shadow-sm"><div class="card-body">
  <h1 class="h4 mb-1">Wall display sign-in</h1>
  {% if token %}
  <p class="text-body-secondary mb-3">This address carries display token <code>{{ token_id }}</code>.
    Start the display to show the pages it names on this screen.</p>
  {% if signed_in %}<div class="alert alert-warning" role="alert">⚠ This browser is signed in as
    <strong>{{ signed_in }}</strong>: starting the display signs that session out.</div>{% endif %}
  {% else %}
  <p class="text-body-secondary mb-4">Enter the display token issued with <code>atmp-hub display-token create</code>.</p>
  {% endif %}
  {% if error %}<div class="alert alert-danger" role="alert">⚠ {{ error }}</div>{% endif %}
  <form method="post" action="/kiosk/login{{ query }}">
    {% if token %}<input type="hidden" name="token" value="{{ token }}">
    {% else %}<label class="form-label" for="token">Display token</label>
    <input class="form-control mb-4" id="token" name="token" autocomplete="off" required autofocus>{% endif %}
    <button class="btn btn-primary w-100" type="submit">Start the display</button>
  </form>
</div></main></body></html>"""


def _form(status: int = 200, *, token: str | None = None, error: str | None = None):
    signed_in = current_user.user_id if token and current_user.is_authenticated else None
    response = current_app.make_response((render_template_string(
        LOGIN_PAGE, error=error, query=_kiosk_query(), token=token, signed_in=signed_in,
        token_id=display_tokens.token_id_of(token) or "(malformed)" if token else None), status))
    response.headers["Cache-Control"] = "no-store"
    # The token is in this page's address: referrers carry the origin only ("no-referrer" would make the
    # browser send "Origin: null" with the form, which the same-origin check rightly refuses).
    response.headers["Referrer-Policy"] = "origin"
    return response


@bp.route("/kiosk/login", methods=["GET", "POST"])
# Token guesses count against the same per-address budget as password sign-ins (dashboard/auth.py).
@limiter.limit(lambda: current_app.extensions["atmp_settings"].login_rate_per_address,
               exempt_when=lambda: request.method != "POST" or not request.form.get("token"))
def kiosk_login():
    if request.method == "GET":  # shows the form (with the address's token); signs nobody in
        return _form(token=request.args.get("token") or None)
    token_id = _sign_in(request.form.get("token"), how="token at /kiosk/login")
    if token_id is None:
        response = _form(401, error="This display token is not valid (unknown, revoked or mistyped).")
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        return response
    token = request.form["token"]
    response = redirect(f"/kiosk{_kiosk_query()}")  # the token leaves the address bar and history
    response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE_S, path=COOKIE_PATH, httponly=True,
                        samesite="Strict", secure=current_app.extensions["atmp_settings"].secure_cookies)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/kiosk/ping")
def kiosk_ping():
    """A cheap authenticated probe for the kiosk script: 200 while the session lives."""
    return jsonify(ok=True, user=current_user.user_id if current_user.is_authenticated else None)


def _resume_from_cookie():
    if request.method != "GET" or request.path != "/kiosk" or current_user.is_authenticated:
        return None
    token = request.cookies.get(COOKIE)
    if token and _sign_in(token, how="session resumed from the kiosk cookie") is None:
        response = redirect(f"/kiosk/login{_kiosk_query()}")
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        return response
    return None


def _check_token_still_active():
    token_id = session.get(SESSION_KEY)
    if not token_id or not current_user.is_authenticated:
        return None
    if display_tokens.is_active_recent(_wh(), token_id):
        return None
    audit.append(_wh(), user_id=current_user.user_id, action="logout", object_type="display_token",
                 object_id=token_id, reason="display token revoked")
    logout_user()
    session.clear()
    if request.path.startswith("/_") or request.path == "/kiosk/ping":
        return jsonify(error="display token revoked"), 401
    response = redirect(f"/kiosk/login{_kiosk_query()}")
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response
