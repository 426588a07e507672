"""Display tokens and kiosk mode: token sign-in, what a display may reach, revocation, the playlist."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace

import pytest
from cli_runner import atmp_hub
from conftest import dash_call
from export_helpers import copied_app, export_call

from queries.records import audit, display_tokens

KIOSK = ["kiosk-slides", "kiosk-as-of"]
PAGES = ["_pages_content", "_pages_store"]
PLAYLIST = {"slides": ["overview", "excursions", "site:CHI"], "interval": 30, "reload": 60}
ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture(scope="module")
def kiosk_app(sample_warehouse, tmp_path_factory):
    with copied_app(sample_warehouse, tmp_path_factory.mktemp("kiosk")) as (app, wh):
        yield app, wh


@pytest.fixture
def token(kiosk_app):
    _, wh = kiosk_app
    return display_tokens.create(wh, user_id="t.display", label="QA corridor TV", created_by="test")


def _kiosk_client(app, token: str, query="pages=overview,excursions,site:CHI&interval=30"):
    """Open the kiosk address as a display's browser does, then press "Start the display"."""
    client = app.server.test_client()
    form = client.get(f"/kiosk/login?token={token}&{query}")
    assert form.status_code == 200 and "Set-Cookie" not in form.headers
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', form.text).group(1))
    hidden = re.search(r'<input type="hidden" name="token" value="([^"]*)"', form.text)
    assert html.unescape(hidden.group(1)) == token
    response = client.post(action, data={"token": token}, headers=ORIGIN)
    return client, response


@pytest.mark.requirement("URS-KIO-004")
def test_a_kiosk_address_signs_nobody_in_until_its_form_is_posted_from_the_hub(kiosk_app, token):
    """A GET (a link, an image, a prefetch) cannot replace a visitor's session; a cross-site POST is refused."""
    app, wh = kiosk_app
    client = app.server.test_client()
    assert client.post("/login", data={"username": "t.leader", "password": "correct-horse-battery"},
                       headers=ORIGIN).status_code == 302
    before = len(wh.query("sql/audit_all"))
    form = client.get(f"/kiosk/login?token={token.token}&pages=overview")
    assert form.status_code == 200 and "signed in as" in form.text and "t.leader" in form.text
    assert form.headers["Referrer-Policy"] == "origin" and form.headers["Cache-Control"] == "no-store"
    assert len(wh.query("sql/audit_all")) == before  # nothing happened
    assert client.get("/kiosk/ping").json["user"] == "t.leader"
    refused = client.post("/kiosk/login?pages=overview", data={"token": token.token},
                          headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and client.get("/kiosk/ping").json["user"] == "t.leader"
    started = client.post("/kiosk/login?pages=overview", data={"token": token.token}, headers=ORIGIN)
    assert started.status_code == 302 and client.get("/kiosk/ping").json["user"] == "t.display"


def _actions(wh, n=5) -> list[tuple]:
    rows = wh.query("sql/audit_all").tail(n)
    return list(zip(rows.action, rows.object_id, rows.reason, strict=True))


@pytest.mark.requirement("URS-KIO-004")
def test_token_signs_in_and_leaves_the_address_bar(kiosk_app, token):
    app, wh = kiosk_app
    client, response = _kiosk_client(app, token.token)
    assert response.status_code == 302
    assert response.headers["Location"] == "/kiosk?pages=overview%2Cexcursions%2Csite%3ACHI&interval=30"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("atmp_kiosk="))
    assert "HttpOnly" in cookie and "Path=/kiosk" in cookie and "SameSite=Strict" in cookie
    assert ("display_token_login", token.token_id, "token at /kiosk/login") in _actions(wh)
    assert client.get("/kiosk").status_code == 200
    # Only the hash is stored: the secret appears nowhere in the warehouse.
    stored = wh.query("sql/display_token_get", {"token_id": token.token_id}).iloc[0]
    assert token.token.split(".")[1] not in json.dumps(stored.astype(str).to_dict())


@pytest.mark.requirement("URS-KIO-005")
def test_invalid_tokens_are_refused_and_audited(kiosk_app, token):
    app, wh = kiosk_app
    for bad in (token.token[:-1] + ("A" if token.token[-1] != "A" else "B"), "dt_000000000000." + "x" * 43, "junk"):
        client, response = _kiosk_client(app, bad)
        assert response.status_code == 401 and b"not valid" in response.data
        assert client.get("/_dash-layout").status_code == 401
    assert [a[0] for a in _actions(wh, 3)] == ["display_token_refused"] * 3
    assert _actions(wh, 1)[0][1] == "(malformed)"


@pytest.mark.requirement("URS-KIO-006")
@pytest.mark.requirement("URS-ACC-002", "URS-EXP-005")
def test_display_reaches_only_display_pages_and_callbacks(kiosk_app, token):
    app, _ = kiosk_app
    client, _ = _kiosk_client(app, token.token)
    ok = dash_call(client, app, KIOSK, {"kiosk-refresh.n_intervals": 1}, {"kiosk-playlist.data": PLAYLIST})
    assert ok.status_code == 200
    for path in ("/", "/definitions", "/kiosk"):
        body = json.dumps(dash_call(client, app, PAGES, {"_pages_location.pathname": path,
                                                         "_pages_location.search": ""}).get_json())
        assert "page-denied" not in body, path
    for path in ("/site/CHI", "/audit", "/admin/users"):
        body = json.dumps(dash_call(client, app, PAGES, {"_pages_location.pathname": path,
                                                         "_pages_location.search": ""}).get_json())
        assert "page-denied" in body or "Not available for your role" in body, path
    site = dash_call(client, app, ["site-title", "site-body", "site-as-of"], {"site-window.value": 90},
                     {"site-id.data": "CHI"})
    assert site.status_code == 403
    assert dash_call(client, app, ["audit-table", "audit-count"], {"audit-apply.n_clicks": 1}).status_code == 403
    assert export_call(client, "overview", "headline", "png").status_code == 403
    assert export_call(client, "site", "report", "pdf", site_id="CHI").status_code == 403


@pytest.mark.requirement("URS-KIO-007")
def test_kiosk_slides_hold_no_personal_data(kiosk_app, token, sample_warehouse):
    app, _ = kiosk_app
    client, _ = _kiosk_client(app, token.token)
    body = json.dumps(dash_call(client, app, KIOSK, {"kiosk-refresh.n_intervals": 1},
                                {"kiosk-playlist.data": PLAYLIST}).get_json())
    assert "Network overview" in body and "Live excursions" in body and "(CHI)" in body
    names = set(sample_warehouse.query("sql/users_list").display_name) | {"t.display"}
    operators = set(sample_warehouse.query("x", sql="SELECT DISTINCT operator_ref FROM training_records")
                    .operator_ref.dropna())
    leaked = {n for n in names | operators if re.search(rf"\b{re.escape(n)}\b", body)}
    assert not leaked


@pytest.mark.requirement("URS-KIO-008")
def test_forged_playlist_is_parsed_again_under_the_scope(kiosk_app, token):
    app, _ = kiosk_app
    client, _ = _kiosk_client(app, token.token)
    forged = {"slides": ["site:XXX", "../admin", "audit", "site:chi"], "interval": "abc"}
    body = dash_call(client, app, KIOSK, {"kiosk-refresh.n_intervals": 1},
                     {"kiosk-playlist.data": forged}).get_json()
    sections = body["response"]["kiosk-slides"]["children"]
    assert [s["props"]["aria-label"] for s in sections] == ["Site CHI"]


@pytest.mark.requirement("URS-KIO-005")
@pytest.mark.requirement("URS-ACC-008")
def test_revoked_token_stops_working(kiosk_app, token):
    app, wh = kiosk_app
    client, _ = _kiosk_client(app, token.token)
    assert dash_call(client, app, KIOSK, {"kiosk-refresh.n_intervals": 1},
                     {"kiosk-playlist.data": PLAYLIST}).status_code == 200
    assert display_tokens.revoke(wh, token.token_id, revoked_by="t.admin", reason="screen stolen")
    assert not display_tokens.revoke(wh, token.token_id, revoked_by="t.admin", reason="again")
    refused = client.post("/_dash-update-component", json={"output": "kiosk-slides.children"}, headers=ORIGIN)
    assert refused.status_code == 401 and refused.get_json() == {"error": "display token revoked"}
    assert client.get("/_dash-dependencies").status_code == 401
    page = client.get("/kiosk")  # the session is gone and the cookie's token is revoked
    assert page.status_code == 302 and page.headers["Location"].startswith("/kiosk/login")
    assert _kiosk_client(app, token.token)[1].status_code == 401
    entries = wh.query("sql/audit_all")
    revoked = entries[entries.action == "display_token_revoked"].iloc[-1]
    assert (revoked.user_id, revoked.object_id, revoked.reason) == ("t.admin", token.token_id, "screen stolen")
    assert ((entries.action == "logout") & (entries.reason == "display token revoked")).any()
    assert audit.verify(wh).ok


@pytest.mark.requirement("URS-KIO-004")
def test_screen_signs_in_again_from_its_cookie_after_the_session_is_lost(kiosk_app, token):
    """What a server restart (new session keys) looks like to the screen: only the kiosk cookie is left."""
    app, wh = kiosk_app
    first, response = _kiosk_client(app, token.token)
    cookie = first.get_cookie("atmp_kiosk", path="/kiosk").value
    screen = app.server.test_client()
    screen.set_cookie("atmp_kiosk", cookie, path="/kiosk")
    assert screen.get("/_dash-layout").status_code == 401  # no session yet
    assert screen.get("/kiosk?pages=overview").status_code == 200  # signed in again from the cookie
    assert screen.get("/_dash-layout").status_code == 200
    assert _actions(wh, 1)[0] == ("display_token_login", token.token_id, "session resumed from the kiosk cookie")


@pytest.mark.requirement("URS-ACC-008")
def test_tokens_only_for_display_users(kiosk_app):
    _, wh = kiosk_app
    with pytest.raises(ValueError, match="display role"):
        display_tokens.create(wh, user_id="t.leader", label="x", created_by="test")
    with pytest.raises(ValueError, match="no active user"):
        display_tokens.create(wh, user_id="nobody", label="x", created_by="test")


@pytest.mark.requirement("URS-ACC-008")
def test_cli_create_list_revoke(kiosk_app):
    _, wh = kiosk_app

    def cli(*args: str):
        wh.dispose()  # a DuckDB file admits one process: the app lets go while the command runs
        return atmp_hub(*args, env={"ATMP_DATABASE_URL": wh.url})

    created = cli("display-token", "create", "--user", "t.display", "--label", "Lobby TV")
    assert created.returncode == 0, created.stderr
    token = re.search(r"^  (dt_\w+\.\S+)$", created.stdout, re.M).group(1)
    token_id = token.split(".")[0]
    assert display_tokens.authenticate(wh, token)[0] == token_id
    listed = cli("display-token", "list")
    assert listed.returncode == 0
    assert token_id in listed.stdout and "Lobby TV" in listed.stdout and token.split(".")[1] not in listed.stdout
    assert cli("display-token", "revoke", token_id, "--reason", "moved").returncode == 0
    assert display_tokens.authenticate(wh, token) is None
    refused = cli("display-token", "create", "--user", "t.leader", "--label", "x")
    assert refused.returncode == 2 and "only for users with the display role" in refused.stderr, refused.stderr


@pytest.mark.requirement("URS-KIO-005")
@pytest.mark.requirement("URS-ACC-006")
def test_token_guessing_is_rate_limited(sample_warehouse, tmp_path):
    with copied_app(sample_warehouse, tmp_path) as (app, wh):
        app.server.extensions["atmp_settings"] = replace(app.server.extensions["atmp_settings"],
                                                         login_rate_per_address="3 per minute")
        client = app.server.test_client()
        codes = [client.post("/kiosk/login", data={"token": f"dt_00000000000{i}.{'x' * 43}"},
                             headers=ORIGIN).status_code for i in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        assert client.get("/kiosk/login").status_code == 200  # the form itself is not limited


# --- playlist entries that cannot be shown are named, on the screen and in the log -----------------------
def _scope(site_ids=("CHI", "ATL")):
    from datetime import UTC, datetime

    from queries.engine.scope import Scope

    return Scope("t.display", "display", tuple(site_ids), True, datetime(2026, 1, 1, tzinfo=UTC),
                 datetime(2026, 2, 1, tzinfo=UTC))


def _kiosk_module(app):
    """The kiosk page module as Dash loaded it (importing dashboard.pages.kiosk again would register the
    page a second time, without its layout)."""
    import sys

    import dash

    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == "/kiosk")]


@pytest.mark.requirement("URS-KIO-008")
def test_playlist_reader_names_each_ignored_entry_and_why(kiosk_app):
    kiosk = _kiosk_module(kiosk_app[0])
    read_playlist, NO_SITE, TOO_MANY, UNKNOWN_PAGE = (kiosk.read_playlist, kiosk.NO_SITE, kiosk.TOO_MANY,  # noqa: N806
                                                      kiosk.UNKNOWN_PAGE)
    read = read_playlist("overview, foo,site:XXX,site:chi,,overview,site:ATL:1,site", _scope(("CHI",)))
    assert [s.key for s in read.slides] == ["overview", "site:CHI"] and not read.fallback
    assert read.ignored == [("foo", UNKNOWN_PAGE), ("site:XXX", NO_SITE), ("site:ATL:1", NO_SITE), ("site", NO_SITE)]
    # A site that exists but is outside this display's scope reads exactly like one that does not exist.
    assert read_playlist("site:ATL", _scope(("CHI",))).ignored == [("site:ATL", NO_SITE)]
    only_bad = read_playlist("foo,site:XXX", _scope())
    assert [s.key for s in only_bad.slides] == ["overview", "excursions"] and only_bad.fallback
    for fine in (None, "", "overview,excursions,site:CHI", "overview,"):
        assert read_playlist(fine, _scope()).ignored == [], fine
    many = read_playlist(",".join(["overview", "excursions"] + [f"site:S{i}" for i in range(12)]),
                         _scope([f"S{i}" for i in range(12)]))
    assert len(many.slides) == 12 and many.ignored == [("site:S10", TOO_MANY), ("site:S11", TOO_MANY)]


def _kiosk_page(client, app, search: str) -> str:
    return json.dumps(dash_call(client, app, PAGES, {"_pages_location.pathname": "/kiosk",
                                                     "_pages_location.search": search}).get_json())


def _notice(body: str) -> dict | None:
    """The notice component of the kiosk page's layout, found by its id."""
    def walk(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "kiosk-notice":
                return node["props"]
            for value in node.values():
                if (found := walk(value)) is not None:
                    return found
        elif isinstance(node, list):
            for value in node:
                if (found := walk(value)) is not None:
                    return found
        return None
    return walk(json.loads(body))


def _text(node) -> str:
    if isinstance(node, dict):
        return _text(node.get("props", {}).get("children"))
    if isinstance(node, list):
        return "".join(_text(n) for n in node)
    return "" if node is None else str(node)


@pytest.mark.requirement("URS-KIO-008")
def test_kiosk_shows_and_logs_the_ignored_entries(kiosk_app, token, caplog):
    app, _ = kiosk_app
    client, _ = _kiosk_client(app, token.token, "pages=overview,foo,site:XXX&interval=30")
    with caplog.at_level("WARNING"):
        body = _kiosk_page(client, app, "?pages=overview,foo,site:XXX&interval=30")
    notice = _notice(body)
    text = _text(notice["children"])
    assert notice["hidden"] is False and notice["role"] == "status" and notice["data-seconds"] == "60"
    assert "foo — unknown page" in text and "site:XXX — no such site or not visible to this display" in text
    assert "The other entries are shown." in text and "disappears 60 s after" in text
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "kiosk playlist" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert "'foo' (unknown page)" in message and "'site:XXX' (no such site" in message
    assert token.token_id in message and "t.display" in message and token.token.split(".")[1] not in message
    assert '"interval": 60000' in body and '"max_intervals": 1' in body  # the one-shot timer that hides it

    caplog.clear()
    with caplog.at_level("WARNING"):
        body = _kiosk_page(client, app, "?pages=foo,site:XXX")
    text = _text(_notice(body)["children"])
    assert "the default playlist (Network overview, Live excursions) is shown instead" in text
    assert '"aria-label": "Network overview"' not in body  # slides come from the refresh callback
    assert len([r for r in caplog.records if "kiosk playlist" in r.getMessage()]) == 1
    assert "showing the default playlist instead" in caplog.records[-1].getMessage()

    caplog.clear()
    with caplog.at_level("WARNING"):
        body = _kiosk_page(client, app, "?pages=overview,site:CHI")
    notice = _notice(body)
    assert notice["hidden"] is True and not notice.get("children")
    assert not [r for r in caplog.records if "kiosk playlist" in r.getMessage()]


@pytest.mark.requirement("URS-KIO-008")
def test_notice_entries_are_text_and_shortened(kiosk_app, token):
    app, _ = kiosk_app
    client, _ = _kiosk_client(app, token.token)
    long = "x" * 200
    entries = ",".join(["<b>bold</b>", long] + [f"bad{i}" for i in range(8)])
    text = _text(_notice(_kiosk_page(client, app, f"?pages={entries}"))["children"])
    assert "<b>bold</b> — unknown page" in text  # a text node: React escapes it
    assert "x" * 39 + "…" in text and long not in text
    assert "and 4 more (named in the server log)" in text
