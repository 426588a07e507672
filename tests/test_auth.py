"""Login, the route guard, sessions and server-side scoping, tried with crafted requests."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import PASSWORDS, TEST_END, TEST_PASSWORD, app_for, dash_call, login

from dashboard import ids
from queries.records import audit, users

OVERVIEW_OUTPUTS = list(ids.OV_REFRESH)
SITE_OUTPUTS = ["site-title", "site-body", "site-as-of"]
PUBLIC_RULES = {"/login", "/healthz", "/readyz", "/_favicon.ico", "/kiosk/login", "/assets/<path:filename>", "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>", "/static/<path:filename>"}


def _concrete(rule: str) -> str:
    path = rule
    for token, value in (("<path:filename>", "x.css"), ("<path:path>", "site/CHI"), ("<string:package_name>", "dash"),
                         ("<path:fingerprinted_path>", "x.js"), ("<report_id>", "some-report"), ("<kind>", "pdf")):
        path = path.replace(token, value)
    return path


@pytest.mark.requirement("URS-ACC-001")
def test_every_route_denies_anonymous_users(hub_app):
    client = hub_app.server.test_client()
    checked = []
    for rule in hub_app.server.url_map.iter_rules():
        if rule.rule in PUBLIC_RULES or rule.rule.startswith("/assets") or rule.rule.startswith("/_dash-component-suites"):
            continue
        path = _concrete(rule.rule)
        assert "<" not in path, f"add a sample value for {rule.rule}"
        method = "POST" if "POST" in rule.methods and "GET" not in rule.methods else "GET"
        response = client.open(path, method=method, headers={"Origin": "http://localhost"},
                               json={} if method == "POST" else None)
        if path.startswith("/_"):
            assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
            assert response.get_json() == {"error": "login required"}
        else:
            assert response.status_code in (302, 401), f"{method} {path} answered {response.status_code}"
            if response.status_code == 302:
                assert response.headers["Location"].startswith("/login")
        checked.append(path)
    # Dash's internal endpoints must be among the guarded ones.
    for internal in ("/_dash-layout", "/_dash-dependencies", "/_dash-update-component", "/_reload-hash"):
        assert internal in checked


@pytest.mark.requirement("URS-ACC-006", "URS-AUD-003")
def test_wrong_password_gets_generic_error_and_is_audited(hub_app, sample_warehouse):
    client = hub_app.server.test_client()
    bad = login(client, "t.leader", "wrong-password-123")
    unknown = login(client, "nobody-here", "wrong-password-123")
    assert bad.status_code == unknown.status_code == 401
    # Same message whether or not the user exists.
    assert b"Sign-in failed: check user name and password." in bad.data
    assert bad.data.replace(b"t.leader", b"") .count(b"Sign-in failed") == unknown.data.count(b"Sign-in failed")
    entries = sample_warehouse.query("sql/audit_all")
    failed = entries[entries.action == "login_failed"]
    assert {"t.leader", "nobody-here"} <= set(failed.user_id)
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.requirement("URS-ACC-010")
def test_passwords_are_stored_as_argon2id_hashes(sample_warehouse):
    stored = sample_warehouse.query("sql/user_get", {"user_id": "t.leader"}).iloc[0].password_hash
    assert stored.startswith("$argon2id$")
    assert TEST_PASSWORD not in stored


@pytest.mark.requirement("URS-ACC-012")
def test_login_sets_strict_httponly_cookie_and_security_headers(hub_app):
    client = hub_app.server.test_client()
    response = login(client, "t.leader")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.requirement("URS-ACC-007")
def test_logout_kills_copied_cookie(hub_app):
    client = hub_app.server.test_client()
    login(client, "t.auditor")
    stolen = client.get_cookie("atmp_session").value
    assert client.get("/_dash-layout").status_code == 200
    assert client.post("/logout", headers={"Origin": "http://localhost"}).status_code == 302
    thief = hub_app.server.test_client()
    thief.set_cookie("atmp_session", stolen)
    assert thief.get("/_dash-layout").status_code == 401


@pytest.mark.requirement("URS-ACC-007")
def test_a_logout_in_another_process_ends_the_session_within_the_recheck_window(hub_app, sample_warehouse):
    """Each process re-reads a session's user at most every users.RECHECK_S seconds. A logout in this
    process is seen at once (test above); one in another worker (here: the session version bumped
    in the database, not through this process's users module) within RECHECK_S."""
    client = hub_app.server.test_client()
    login(client, "t.auditor")
    assert client.get("/_dash-layout").status_code == 200
    with sample_warehouse.transaction() as conn:
        sample_warehouse.run(conn, "sql/user_bump_session", {"user_id": "t.auditor"})
    deadline = time.monotonic() + users.RECHECK_S + 1.0
    while client.get("/_dash-layout").status_code == 200:
        assert time.monotonic() < deadline, "the session outlived the recheck window"
        time.sleep(0.1)
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.requirement("URS-ACC-012")
def test_open_redirect_refused(hub_app):
    client = hub_app.server.test_client()
    response = client.post("/login", data={"username": "t.leader", "password": TEST_PASSWORD,
                                           "next": "//evil.example/x"}, headers={"Origin": "http://localhost"})
    assert response.headers["Location"] == "/"


@pytest.mark.requirement("URS-ACC-012")
def test_cross_origin_and_non_json_posts_refused(make_client, hub_app):
    client = make_client("t.leader")
    cross = client.post("/_dash-update-component", json={}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    no_origin = client.post("/logout")
    assert no_origin.status_code == 403
    form = client.post("/_dash-update-component", data="a=b", headers={"Origin": "http://localhost",
                                                                        "Content-Type": "text/plain"})
    assert form.status_code == 415


def _grid_site_ids(response) -> set[str]:
    """The sites with a row in the grid (its HTML: a row header starts with the site id)."""
    grid = response.get_json()["response"]["overview-grid-html"]["data"]
    return set(re.findall(r'<th scope="row"><(?:a|span) [^>]*>([A-Z]{3}) ·', grid))


@pytest.mark.requirement("URS-ACC-003")
def test_overview_scope_per_role(make_client, hub_app):
    leader = dash_call(make_client("t.leader"), hub_app, OVERVIEW_OUTPUTS, {"overview-window.value": 90})
    assert leader.status_code == 200
    assert _grid_site_ids(leader) == {"HUB", "BOS", "NYC", "ATL", "CHI", "DEN", "PHX", "SEA", "SFO"}
    manager = dash_call(make_client("t.manager.chi"), hub_app, OVERVIEW_OUTPUTS, {"overview-window.value": 90})
    assert manager.status_code == 200
    assert _grid_site_ids(manager) == {"CHI"}
    assert "Network" in json.dumps(manager.get_json())


@pytest.mark.requirement("URS-KPI-008")
def test_forged_window_falls_back_to_default(make_client, hub_app):
    response = dash_call(make_client("t.leader"), hub_app, OVERVIEW_OUTPUTS,
                         {"overview-window.value": "100000; DROP TABLE sites"})
    assert response.status_code == 200
    as_of = response.get_json()["response"]["overview-as-of"]["children"]
    assert "2026-03-03 to 2026-06-01" in as_of  # the 90-day default window ending at TEST_END


@pytest.mark.parametrize("forged", ["ATL", "SEA", "NOPE", "' OR 1=1 --", None, ["CHI", "ATL"], {"site": "ATL"}])
@pytest.mark.requirement("URS-ACC-003")
def test_site_manager_cannot_read_another_site(make_client, hub_app, forged):
    response = dash_call(make_client("t.manager.chi"), hub_app, SITE_OUTPUTS,
                         {"site-window.value": 90}, {"site-id.data": forged})
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert body["site-title"]["children"] == "Site not found"
    text = json.dumps(body)
    assert "ATL-" not in text and "DEN-" not in text  # no batch, room or deviation ids of other sites


@pytest.mark.requirement("URS-ACC-003")
def test_site_manager_sees_own_site(make_client, hub_app):
    response = dash_call(make_client("t.manager.chi"), hub_app, SITE_OUTPUTS,
                         {"site-window.value": 90}, {"site-id.data": "CHI"})
    body = response.get_json()["response"]
    assert "(CHI)" in body["site-title"]["children"]
    assert "America/Chicago" in body["site-as-of"]["children"]


@pytest.mark.parametrize("user_id", ["t.display", "t.admin"])
@pytest.mark.requirement("URS-ACC-002")
def test_roles_without_site_pages_are_refused_by_callbacks(make_client, hub_app, user_id):
    response = dash_call(make_client(user_id), hub_app, SITE_OUTPUTS,
                         {"site-window.value": 90}, {"site-id.data": "CHI"})
    assert response.status_code == 403
    assert b"CHI-" not in response.data


@pytest.mark.requirement("URS-ACC-002")
def test_admin_gets_no_quality_data(make_client, hub_app):
    response = dash_call(make_client("t.admin"), hub_app, OVERVIEW_OUTPUTS, {"overview-window.value": 90})
    assert response.status_code == 403


@pytest.mark.requirement("URS-ACC-005")
def test_idle_timeout_ends_session_and_ticks_do_not_extend_it(make_client, hub_app, monkeypatch):
    client = make_client("t.leader")
    assert client.get("/_dash-layout").status_code == 200
    start = time.time()
    idle = hub_app.server.extensions["atmp_settings"].idle_timeout_min * 60
    # A timer tick just before the limit does not count as activity...
    monkeypatch.setattr(time, "time", lambda: start + idle - 5)
    tick = client.post("/_dash-update-component", headers={"Origin": "http://localhost"},
                       json={"output": "x.children", "outputs": {"id": "x", "property": "children"},
                             "inputs": [{"id": "tick", "property": "n_intervals", "value": 3}],
                             "changedPropIds": ["tick.n_intervals"], "state": []})
    assert tick.status_code != 401
    # ...so shortly after the limit the session has ended.
    monkeypatch.setattr(time, "time", lambda: start + idle + 5)
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("user_id", sorted(PASSWORDS))
@pytest.mark.requirement("URS-AUD-003")
def test_login_is_audited_per_role(hub_app, sample_warehouse, user_id):
    client = hub_app.server.test_client()
    assert login(client, user_id).status_code == 302
    entries = sample_warehouse.query("sql/audit_all")
    logins = entries[(entries.action == "login") & (entries.user_id == user_id)]
    role, site = PASSWORDS[user_id]
    assert json.loads(logins.iloc[-1].new_value) == {"role": role, "site_id": site}
    assert audit.verify(sample_warehouse).ok


@pytest.fixture
def strict_login_limits(hub_app, monkeypatch):
    from dataclasses import replace

    from dashboard.auth import limiter
    relaxed = hub_app.server.extensions["atmp_settings"]
    monkeypatch.setitem(hub_app.server.extensions, "atmp_settings",
                        replace(relaxed, login_rate_per_user="5 per minute", login_rate_per_address="20 per minute"))
    limiter.reset()
    yield 5
    limiter.reset()


@pytest.mark.requirement("URS-ACC-006", "URS-AUD-003")
def test_login_attempts_are_rate_limited_per_user(hub_app, sample_warehouse, strict_login_limits):
    limit = strict_login_limits
    client = hub_app.server.test_client()
    codes = [login(client, "t.auditor", f"wrong-password-{i}").status_code for i in range(limit + 1)]
    assert codes[:limit] == [401] * limit
    assert codes[limit] == 429
    # Even the right password is refused while the user is locked out, and the lock is audited.
    assert login(hub_app.server.test_client(), "t.auditor").status_code == 429
    entries = sample_warehouse.query("sql/audit_all")
    assert ((entries.action == "login_rate_limited") & (entries.user_id == "t.auditor")).any()


@pytest.mark.requirement("URS-ACC-006")
def test_login_attempts_are_rate_limited_per_address(hub_app, strict_login_limits):
    client = hub_app.server.test_client()
    # 20 per minute per address, whatever the user names tried (a spray across many accounts).
    codes = [login(client, f"spray-{i}", "wrong-password-123").status_code for i in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429


@pytest.mark.requirement("URS-ACC-001")
def test_component_suites_serve_only_files_to_anonymous_users(make_client):
    client = make_client()
    for path in ("/_dash-component-suites/x", "/_dash-component-suites/../_dash-layout",
                 "/_dash-component-suites/dash/../../_dash-layout", "/_dash-component-suites/dash/"):
        response = client.get(path)
        assert response.status_code == 401, (path, response.status_code)  # not the app shell, not a 500
        assert b"plotly" not in response.data.lower() and b"<html" not in response.data.lower()
    deps = make_client("t.leader").get("/").data.decode()
    script = next(part.split('"')[0] for part in deps.split('src="')[1:] if "_dash-component-suites" in part)
    assert client.get(script.split("?")[0]).status_code == 200  # a real component file stays public


@pytest.mark.requirement("URS-ACC-012")
def test_origin_must_match_the_scheme_too(make_client, hub_app):
    client = make_client("t.leader")
    https = client.post("/_dash-update-component", json={}, headers={"Origin": "https://localhost"})
    assert https.status_code == 403  # an https page is not this http server's origin


@pytest.mark.requirement("URS-ACC-012")
def test_behind_a_trusted_proxy_the_forwarded_scheme_counts(sample_warehouse):
    app = app_for(sample_warehouse, now=TEST_END.isoformat(), trusted_proxies=1)
    client = app.server.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "Origin": "https://localhost"}
    assert client.post("/logout", headers=forwarded).status_code == 302  # same origin through the proxy
    assert client.post("/logout", headers={**forwarded, "Origin": "http://localhost"}).status_code == 403
