"""The admin pages through crafted callbacks: an administrator adds users, changes role and site,
deactivates, activates and resets passwords, creates and revokes display tokens, each signed and audited;
a wrong signature is refused and audited; other roles get 403 whatever they send; the actor is always the
session's user. Then the rules themselves (the last administrator) on DuckDB and PostgreSQL, and where
each role lands after signing in."""

from __future__ import annotations

import json
import re
import uuid

import pandas as pd
import pytest
from conftest import TEST_PASSWORD, dash_call, login
from export_helpers import copied_app

from dashboard import ids
from queries.engine.warehouse import Warehouse
from queries.records import administration, display_tokens, users

ORIGIN = {"Origin": "http://localhost"}
ADD = [ids.ADM_ADD_RESULT, ids.ADM_ADD_SIGNATURE, ids.ADM_ADD_PASSWORD, ids.ADM_ADD_DONE, ids.ADM_ADD_ID,
       ids.ADM_ADD_NAME, ids.ADM_ADD_REASON]
ROLE = [ids.ADM_ROLE_RESULT, ids.ADM_ROLE_SIGNATURE, ids.ADM_ROLE_DONE, ids.ADM_ROLE_REASON]
ACTIVE = [ids.ADM_ACTIVE_RESULT, ids.ADM_ACTIVE_SIGNATURE, ids.ADM_ACTIVE_DONE, ids.ADM_ACTIVE_REASON]
RESET = [ids.ADM_RESET_RESULT, ids.ADM_RESET_SIGNATURE, ids.ADM_RESET_PASSWORD, ids.ADM_RESET_DONE,
         ids.ADM_RESET_REASON]
USERS_REFRESH = [ids.ADM_USERS_TABLE_HOST, ids.ADM_ROLE_USER, ids.ADM_ACTIVE_USER, ids.ADM_RESET_USER,
                 ids.ADM_EMAIL_USER]
EMAIL = [ids.ADM_EMAIL_RESULT, ids.ADM_EMAIL_SIGNATURE, ids.ADM_EMAIL_DONE, ids.ADM_EMAIL_REASON]
TOKEN = [ids.ADM_TOKEN_RESULT, ids.ADM_TOKEN_SIGNATURE, ids.ADM_TOKEN_DONE, ids.ADM_TOKEN_LABEL,
         ids.ADM_TOKEN_REASON]
REVOKE = [ids.ADM_REVOKE_RESULT, ids.ADM_REVOKE_SIGNATURE, ids.ADM_REVOKE_DONE, ids.ADM_REVOKE_REASON]
TOKENS_REFRESH = [ids.ADM_TOKENS_TABLE_HOST, ids.ADM_REVOKE_TOKEN, ids.ADM_TOKEN_USER]
NEW_INITIAL = "initial-password-123"


@pytest.fixture(scope="module")
def admin_app(sample_warehouse, tmp_path_factory):
    """An app over a copy of the sample network (these tests add users and tokens); t.admin is its only
    administrator."""
    with copied_app(sample_warehouse, tmp_path_factory.mktemp("admin")) as (app, wh):
        yield app, wh


def _client(app, user_id: str, password: str = TEST_PASSWORD):
    client = app.server.test_client()
    assert login(client, user_id, password).status_code == 302, user_id
    return client


def _unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:6]}"


@pytest.fixture
def admin(admin_app):
    """A fresh administrator (own signature-attempt budget), signed in; deactivated afterwards so that
    t.admin stays the only active one."""
    app, wh = admin_app
    user_id = _unique("t.admin")
    users.add_user(wh, user_id=user_id, display_name=f"Admin {user_id}", role="admin", site_id=None,
                   password=TEST_PASSWORD)
    yield _client(app, user_id), user_id
    users.set_active(wh, user_id, active=False, changed_by="test", reason="test over")


def call(client, app, outputs, submit, **state):
    """Press a form's button with these field values (ids -> values)."""
    return dash_call(client, app, outputs, {f"{submit}.n_clicks": 1},
                     {f"{k}.{'data' if k.endswith('-done') else 'value'}": v for k, v in state.items()})


def add(client, app, user_id, *, role="auditor", site=None, name="New Person", initial=NEW_INITIAL,
        reason="Joined QA (ticket HR-1)", signature=TEST_PASSWORD):
    return call(client, app, ADD, ids.ADM_ADD_SUBMIT, **{
        ids.ADM_ADD_ID: user_id, ids.ADM_ADD_NAME: name, ids.ADM_ADD_ROLE: role, ids.ADM_ADD_SITE: site,
        ids.ADM_ADD_PASSWORD: initial, ids.ADM_ADD_REASON: reason, ids.ADM_ADD_SIGNATURE: signature,
        ids.ADM_ADD_DONE: 0})


def body(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()["response"]


def text(response) -> str:
    return json.dumps(response.get_json())


def log(wh: Warehouse) -> pd.DataFrame:
    return wh.query("sql/audit_all")


def last(wh: Warehouse, action: str) -> dict:
    entries = log(wh)
    return entries[entries["action"] == action].iloc[-1].to_dict()


@pytest.mark.requirement("URS-ACC-009", "URS-ACC-007", "URS-ACC-010", "URS-AUD-002", "URS-AUD-003", "URS-AUD-012", "URS-SIG-005")
def test_admin_adds_changes_deactivates_activates_and_resets_a_user(admin_app, admin):
    app, wh = admin_app
    client, admin_id = admin
    new_id = _unique("t.new")

    done = body(add(client, app, new_id, role="site_manager", site="CHI"))
    assert f"User {new_id} (site_manager, CHI) added by {admin_id}" in json.dumps(done[ids.ADM_ADD_RESULT])
    assert done[ids.ADM_ADD_DONE]["data"] == 1
    assert done[ids.ADM_ADD_SIGNATURE]["value"] == "" and done[ids.ADM_ADD_PASSWORD]["value"] == ""
    assert done[ids.ADM_ADD_ID]["value"] == "" and done[ids.ADM_ADD_REASON]["value"] == ""  # ready for the next
    record = users.get_user(wh, new_id)
    assert (record.role, record.site_id, record.display_name, record.active) == ("site_manager", "CHI", "New Person",
                                                                                 True)
    entry = last(wh, "user_added")
    assert (entry["user_id"], entry["object_id"], entry["reason"], entry["new_value"], entry["meaning"]) == (
        admin_id, new_id, "Joined QA (ticket HR-1)", "role=site_manager site=CHI", administration.USERS_MEANING)
    assert NEW_INITIAL not in log(wh).to_json(date_format="iso")  # neither the password nor the signature is written

    refreshed = body(dash_call(client, app, USERS_REFRESH, {f"{ids.ADM_ADD_DONE}.data": 1}))
    table = json.dumps(refreshed[ids.ADM_USERS_TABLE_HOST])
    assert new_id in table and "New Person" in table
    assert new_id in [o["value"] for o in refreshed[ids.ADM_ROLE_USER]["options"]]

    newcomer = _client(app, new_id, NEW_INITIAL)
    assert newcomer.get("/_dash-layout").status_code == 200

    # Role change: site dropped with it; the user's session ends at once.
    changed = body(call(client, app, ROLE, ids.ADM_ROLE_SUBMIT, **{
        ids.ADM_ROLE_USER: new_id, ids.ADM_ROLE_ROLE: "auditor", ids.ADM_ROLE_SITE: "none",
        ids.ADM_ROLE_REASON: "Moved to the audit team", ids.ADM_ROLE_SIGNATURE: TEST_PASSWORD, ids.ADM_ROLE_DONE: 0}))
    assert f"{new_id} is now auditor; their sessions have ended" in json.dumps(changed[ids.ADM_ROLE_RESULT])
    assert (users.get_user(wh, new_id).role, users.get_user(wh, new_id).site_id) == ("auditor", None)
    entry = last(wh, "user_role_changed")
    assert (entry["user_id"], entry["object_id"], entry["old_value"], entry["new_value"], entry["meaning"]) == (
        admin_id, new_id, "role=site_manager site=CHI", "role=auditor site=None", administration.USERS_MEANING)
    assert newcomer.get("/_dash-layout").status_code == 401

    for choice, action, active in (("deactivate", "user_deactivated", False), ("activate", "user_activated", True)):
        answer = body(call(client, app, ACTIVE, ids.ADM_ACTIVE_SUBMIT, **{
            ids.ADM_ACTIVE_USER: new_id, ids.ADM_ACTIVE_CHOICE: choice, ids.ADM_ACTIVE_REASON: f"{choice} test",
            ids.ADM_ACTIVE_SIGNATURE: TEST_PASSWORD, ids.ADM_ACTIVE_DONE: 0}))
        assert f"{new_id} {choice}d" in json.dumps(answer[ids.ADM_ACTIVE_RESULT])
        assert users.get_user(wh, new_id).active is active
        entry = last(wh, action)
        assert (entry["user_id"], entry["object_id"], entry["reason"]) == (admin_id, new_id, f"{choice} test")

    version = users.get_user(wh, new_id).session_version
    reset = body(call(client, app, RESET, ids.ADM_RESET_SUBMIT, **{
        ids.ADM_RESET_USER: new_id, ids.ADM_RESET_PASSWORD: "a-brand-new-password", ids.ADM_RESET_REASON:
        "Forgotten password, identity checked in person", ids.ADM_RESET_SIGNATURE: TEST_PASSWORD,
        ids.ADM_RESET_DONE: 0}))
    assert f"Password of {new_id} reset" in json.dumps(reset[ids.ADM_RESET_RESULT])
    assert reset[ids.ADM_RESET_PASSWORD]["value"] == ""
    assert users.verify_password(wh, new_id, "a-brand-new-password") is not None
    assert users.verify_password(wh, new_id, NEW_INITIAL) is None
    assert users.get_user(wh, new_id).session_version == version + 1  # sessions ended
    entry = last(wh, "user_password_reset")
    assert (entry["user_id"], entry["object_id"], entry["meaning"]) == (admin_id, new_id,
                                                                         administration.USERS_MEANING)
    assert "a-brand-new-password" not in log(wh).to_json(date_format="iso")


@pytest.mark.requirement("URS-ACC-009", "URS-ACC-010")
def test_a_wrong_signature_is_refused_and_audited(admin_app, admin):
    app, wh = admin_app
    client, admin_id = admin
    new_id = _unique("t.unsigned")
    answer = body(add(client, app, new_id, signature="not-my-password"))
    assert "Signature failed" in json.dumps(answer[ids.ADM_ADD_RESULT])
    assert ids.ADM_ADD_DONE not in answer and ids.ADM_ADD_ID not in answer  # nothing recorded; fields kept
    assert answer[ids.ADM_ADD_SIGNATURE]["value"] == ""
    assert users.get_user(wh, new_id) is None
    entry = last(wh, "esignature_failed")
    assert (entry["user_id"], entry["object_id"], entry["meaning"]) == (admin_id, new_id,
                                                                         administration.USERS_MEANING)

    # Input mistakes are named before any signature is asked for.
    for change, message in (({"role": "root"}, "Role must be one of"), ({"role": "site_manager"}, "needs a site id"),
                            ({"site": "CHI"}, "not tied to a site"), ({"initial": "short"}, "at least 12"),
                            ({"reason": "  "}, "A reason is required"), ({}, "already exists")):
        user_id = "t.admin" if message == "already exists" else _unique("t.bad")
        answer = text(add(client, app, user_id, **change))
        assert message in answer, (change, answer)
    mine = log(wh)[log(wh)["user_id"] == admin_id]
    assert list(mine["action"]) == ["login", "esignature_failed"]  # the one failed signature only


@pytest.mark.parametrize("user_id", ["t.leader", "t.manager.chi"])
@pytest.mark.requirement("URS-ACC-009", "URS-ACC-002")
def test_other_roles_are_refused_whatever_they_send(admin_app, user_id):
    app, wh = admin_app
    client = _client(app, user_id)  # their own password is TEST_PASSWORD: a valid signature for them
    token_id = display_tokens.create(wh, user_id="t.display", label="Lobby", created_by="test").token_id
    before = len(log(wh))
    attempts = [
        (ADD, ids.ADM_ADD_SUBMIT, {ids.ADM_ADD_ID: _unique("t.sneaky"), ids.ADM_ADD_ROLE: "admin",
                                   ids.ADM_ADD_PASSWORD: NEW_INITIAL, ids.ADM_ADD_REASON: "me",
                                   ids.ADM_ADD_SIGNATURE: TEST_PASSWORD}),
        (ROLE, ids.ADM_ROLE_SUBMIT, {ids.ADM_ROLE_USER: user_id, ids.ADM_ROLE_ROLE: "admin",
                                     ids.ADM_ROLE_REASON: "me", ids.ADM_ROLE_SIGNATURE: TEST_PASSWORD}),
        (ACTIVE, ids.ADM_ACTIVE_SUBMIT, {ids.ADM_ACTIVE_USER: "t.admin", ids.ADM_ACTIVE_CHOICE: "deactivate",
                                         ids.ADM_ACTIVE_REASON: "me", ids.ADM_ACTIVE_SIGNATURE: TEST_PASSWORD}),
        (RESET, ids.ADM_RESET_SUBMIT, {ids.ADM_RESET_USER: "t.admin", ids.ADM_RESET_PASSWORD: "taken-over-now",
                                       ids.ADM_RESET_REASON: "me", ids.ADM_RESET_SIGNATURE: TEST_PASSWORD}),
        (TOKEN, ids.ADM_TOKEN_SUBMIT, {ids.ADM_TOKEN_USER: "t.display", ids.ADM_TOKEN_LABEL: "mine",
                                       ids.ADM_TOKEN_REASON: "me", ids.ADM_TOKEN_SIGNATURE: TEST_PASSWORD}),
        (REVOKE, ids.ADM_REVOKE_SUBMIT, {ids.ADM_REVOKE_TOKEN: token_id, ids.ADM_REVOKE_REASON: "me",
                                         ids.ADM_REVOKE_SIGNATURE: TEST_PASSWORD}),
    ]
    for outputs, submit, state in attempts:
        response = call(client, app, outputs, submit, **state)
        assert response.status_code == 403, (submit, response.status_code)
    for outputs, store in ((USERS_REFRESH, ids.ADM_ADD_DONE), (TOKENS_REFRESH, ids.ADM_TOKEN_DONE)):
        assert dash_call(client, app, outputs, {f"{store}.data": 1}).status_code == 403
    assert users.get_user(wh, user_id).role != "admin" and users.get_user(wh, "t.admin").active
    assert users.verify_password(wh, "t.admin", TEST_PASSWORD) is not None
    assert display_tokens.is_active(wh, token_id)
    entries = log(wh).iloc[before:]
    refused = entries[entries["action"] == administration.REFUSED]
    assert len(refused) == 6 and set(refused["user_id"]) == {user_id}
    assert not entries["action"].isin(["user_added", "user_role_changed", "user_deactivated", "user_password_reset",
                                       "display_token_created", "display_token_revoked", "esignature_failed"]).any()
    # The pages themselves say "not available" and link to the role's own pages.
    for path in ("/admin/users", "/admin/display-tokens"):
        page = text(dash_call(client, app, ["_pages_content", "_pages_store"],
                              {"_pages_location.pathname": path, "_pages_location.search": ""}))
        assert "page-denied" in page and "users-table" not in page


@pytest.mark.requirement("URS-SIG-004", "URS-AUD-002", "URS-ACC-009")
def test_forged_fields_never_choose_the_actor(admin_app, admin):
    app, wh = admin_app
    client, admin_id = admin
    other_admin = _unique("t.admin.other")
    users.add_user(wh, user_id=other_admin, display_name="Other", role="admin", site_id=None,
                   password="the-other-admins-password")
    try:
        # Signing with another administrator's password: the signature is the session user's, so it fails.
        answer = text(add(client, app, _unique("t.x"), signature="the-other-admins-password"))
        assert "Signature failed" in answer
        assert last(wh, "esignature_failed")["user_id"] == admin_id
        # Fields of the wrong type or naming nobody: refused with a message, never a traceback or a change.
        for target in (["t.leader"], {"user": "t.leader"}, "nobody-here", "' OR 1=1 --"):
            response = call(client, app, ROLE, ids.ADM_ROLE_SUBMIT, **{
                ids.ADM_ROLE_USER: target, ids.ADM_ROLE_ROLE: "admin", ids.ADM_ROLE_REASON: "x",
                ids.ADM_ROLE_SIGNATURE: TEST_PASSWORD})
            assert response.status_code == 200 and "Not done" in text(response), target
        for forged_role in (["admin"], "root", {"role": "admin"}):
            response = call(client, app, ROLE, ids.ADM_ROLE_SUBMIT, **{
                ids.ADM_ROLE_USER: "t.leader", ids.ADM_ROLE_ROLE: forged_role, ids.ADM_ROLE_REASON: "x",
                ids.ADM_ROLE_SIGNATURE: TEST_PASSWORD})
            assert "Role must be one of" in text(response), forged_role
        response = call(client, app, ACTIVE, ids.ADM_ACTIVE_SUBMIT, **{
            ids.ADM_ACTIVE_USER: "t.leader", ids.ADM_ACTIVE_CHOICE: True, ids.ADM_ACTIVE_REASON: "x",
            ids.ADM_ACTIVE_SIGNATURE: TEST_PASSWORD})
        assert "Choose deactivate or activate" in text(response)
        # A forged click count is no click at all.
        forged = dash_call(client, app, ADD, {f"{ids.ADM_ADD_SUBMIT}.n_clicks": "1"},
                           {f"{ids.ADM_ADD_ID}.value": _unique("t.y"), f"{ids.ADM_ADD_SIGNATURE}.value": TEST_PASSWORD})
        assert forged.status_code == 204
        assert users.get_user(wh, "t.leader").role == "leadership"
    finally:
        users.set_active(wh, other_admin, active=False, changed_by="test", reason="test over")


@pytest.mark.requirement("URS-ACC-009")
def test_the_last_administrator_cannot_demote_or_deactivate_themselves(admin_app):
    app, wh = admin_app
    listed = wh.query("sql/users_list")
    assert set(listed.loc[(listed["role"] == "admin") & listed["active"], "user_id"]) == {"t.admin"}
    client = _client(app, "t.admin")
    demote = text(call(client, app, ROLE, ids.ADM_ROLE_SUBMIT, **{
        ids.ADM_ROLE_USER: "t.admin", ids.ADM_ROLE_ROLE: "auditor", ids.ADM_ROLE_REASON: "stepping down",
        ids.ADM_ROLE_SIGNATURE: TEST_PASSWORD}))
    assert "the last active administrator" in demote
    deactivate = text(call(client, app, ACTIVE, ids.ADM_ACTIVE_SUBMIT, **{
        ids.ADM_ACTIVE_USER: "t.admin", ids.ADM_ACTIVE_CHOICE: "deactivate", ids.ADM_ACTIVE_REASON: "leaving",
        ids.ADM_ACTIVE_SIGNATURE: TEST_PASSWORD}))
    assert "the last active administrator" in deactivate
    record = users.get_user(wh, "t.admin")
    assert (record.role, record.active) == ("admin", True)
    assert last(wh, administration.REFUSED)["reason"] == "would leave no active administrator (deactivate)"


@pytest.mark.requirement("URS-ACC-008", "URS-AUD-012")
def test_admin_creates_shows_once_lists_and_revokes_a_display_token(admin_app, admin):
    app, wh = admin_app
    client, admin_id = admin
    created = body(call(client, app, TOKEN, ids.ADM_TOKEN_SUBMIT, **{
        ids.ADM_TOKEN_USER: "t.display", ids.ADM_TOKEN_LABEL: "Cleanroom B corridor", ids.ADM_TOKEN_REASON:
        "New screen installed", ids.ADM_TOKEN_SIGNATURE: TEST_PASSWORD, ids.ADM_TOKEN_DONE: 0}))
    shown = json.dumps(created[ids.ADM_TOKEN_RESULT])
    token = re.search(r"dt_[0-9a-f]{12}\.[A-Za-z0-9_-]{43}", shown).group(0)
    token_id, secret = token.split(".")
    assert "Shown once" in shown and created[ids.ADM_TOKEN_DONE]["data"] == 1
    stored = wh.query("sql/display_token_get", {"token_id": token_id}).iloc[0]
    assert secret not in stored.to_json(date_format="iso") and stored.token_hash != secret  # only the hash is kept
    assert display_tokens.authenticate(wh, token)[1].user_id == "t.display"
    entry = last(wh, "display_token_created")
    assert (entry["user_id"], entry["object_id"], entry["reason"], entry["meaning"]) == (
        admin_id, token_id, "New screen installed", administration.TOKENS_MEANING)
    assert secret not in log(wh).to_json(date_format="iso")

    screen = app.server.test_client()  # a wall display signs in with it: "last used" is filled
    assert screen.post("/kiosk/login?pages=overview&interval=30", data={"token": token},
                       headers=ORIGIN).status_code == 302
    listed = json.dumps(body(dash_call(client, app, TOKENS_REFRESH, {f"{ids.ADM_TOKEN_DONE}.data": 1})))
    assert token_id in listed and "Cleanroom B corridor" in listed and secret not in listed
    row = display_tokens.list_tokens(wh).set_index("token_id").loc[token_id]
    assert not pd.isna(row.last_used)

    # Tokens are for display users only; refused without a signature attempt.
    assert "Display tokens are for active users with the display role" in text(call(
        client, app, TOKEN, ids.ADM_TOKEN_SUBMIT, **{ids.ADM_TOKEN_USER: "t.leader", ids.ADM_TOKEN_LABEL: "x",
                                                     ids.ADM_TOKEN_REASON: "x", ids.ADM_TOKEN_SIGNATURE: TEST_PASSWORD}))

    def revoke():
        return call(client, app, REVOKE, ids.ADM_REVOKE_SUBMIT, **{
            ids.ADM_REVOKE_TOKEN: token_id, ids.ADM_REVOKE_REASON: "Screen removed",
            ids.ADM_REVOKE_SIGNATURE: TEST_PASSWORD, ids.ADM_REVOKE_DONE: 0})
    assert f"Display token {token_id} revoked" in text(revoke())
    assert not display_tokens.is_active(wh, token_id) and display_tokens.authenticate(wh, token) is None
    entry = last(wh, "display_token_revoked")
    assert (entry["user_id"], entry["object_id"], entry["reason"], entry["meaning"]) == (
        admin_id, token_id, "Screen removed", administration.TOKENS_MEANING)
    assert "No active display token" in text(revoke())  # once
    refreshed = body(dash_call(client, app, TOKENS_REFRESH, {f"{ids.ADM_REVOKE_DONE}.data": 1}))
    assert f"revoked {pd.Timestamp.now('UTC'):%Y-%m-%d}" in json.dumps(refreshed[ids.ADM_TOKENS_TABLE_HOST])
    assert token_id not in [o["value"] for o in refreshed[ids.ADM_REVOKE_TOKEN]["options"]]


def test_admins_land_on_the_admin_pages(admin_app):
    app, _ = admin_app
    for user_id, next_path, landing in (("t.admin", "/", "/admin/users"), ("t.admin", "/audit", "/audit"),
                                        ("t.leader", "/", "/")):
        response = app.server.test_client().post("/login", data={"username": user_id, "password": TEST_PASSWORD,
                                                                 "next": next_path}, headers=ORIGIN)
        assert response.status_code == 302 and response.headers["Location"] == landing, (user_id, next_path)
    # "/" for an administrator links to the pages they may open, not back to itself.
    page = text(dash_call(_client(app, "t.admin"), app, ["_pages_content", "_pages_store"],
                          {"_pages_location.pathname": "/", "_pages_location.search": ""}))
    assert "page-denied" in page
    links = re.findall(r'"href": "([^"]+)"', page)
    assert "/admin/users" in links and "/admin/display-tokens" in links and "/" not in links


# --- the rules, on both engines ---------------------------------------------------------------------
@pytest.fixture
def small(warehouse: Warehouse) -> Warehouse:
    with warehouse.transaction() as conn:
        warehouse.bulk_insert(conn, "sites", pd.DataFrame([{
            "site_id": "CHI", "name": "Chicago", "region": "US", "timezone": "America/Chicago", "kind": "node",
            "onboarded_at": pd.Timestamp("2024-01-01")}]))
    for user_id, role in (("ada", "admin"), ("lee", "leadership")):
        users.add_user(warehouse, user_id=user_id, display_name=user_id, role=role, site_id=None,
                       password=TEST_PASSWORD)
    return warehouse


@pytest.mark.requirement("URS-ACC-009")
def test_one_administrator_is_always_left(small):
    wh = small
    with pytest.raises(administration.Refused, match="last active administrator"):
        administration.change_role(wh, actor_id="ada", user_id="ada", role="leadership", site_id=None,
                                   reason="x", password=TEST_PASSWORD)
    with pytest.raises(administration.Refused, match="last active administrator"):
        administration.set_active(wh, actor_id="ada", user_id="ada", active=False, reason="x", password=TEST_PASSWORD)
    # With a second administrator, stepping down is allowed (and ends the session like any role change).
    administration.add_user(wh, actor_id="ada", user_id="bo", display_name="Bo", role="admin", site_id="",
                            initial_password=NEW_INITIAL, reason="second admin", password=TEST_PASSWORD)
    administration.change_role(wh, actor_id="ada", user_id="ada", role="leadership", site_id=None,
                               reason="stepping down", password=TEST_PASSWORD)
    assert users.get_user(wh, "ada").role == "leadership"
    with pytest.raises(administration.NotAdmin):  # no longer an administrator, at once
        administration.set_active(wh, actor_id="ada", user_id="lee", active=False, reason="x",
                                  password=TEST_PASSWORD)
    actions = list(wh.query("sql/audit_all")["action"])
    assert actions.count(administration.REFUSED) == 3 and actions.count("user_role_changed") == 1


def test_text_the_warehouse_cannot_store_is_refused_not_raised(small):
    wh = small
    broken = "a\x00b\ud800"  # NUL and a lone surrogate: JSON carries both, neither engine stores them
    with pytest.raises(administration.Refused, match="User not found"):
        administration.change_role(wh, actor_id="ada", user_id=broken, role="auditor", site_id=None, reason="x",
                                   password=TEST_PASSWORD)
    assert wh.query("sql/audit_all").iloc[-1].object_id == ascii(broken)
    with pytest.raises(administration.Refused, match="cannot be stored"):
        administration.add_user(wh, actor_id="ada", user_id="newbie", display_name="N", role="auditor", site_id=None,
                                initial_password="\ud800" * 12, reason="x", password=TEST_PASSWORD)
    with pytest.raises(administration.Refused, match="Signature failed"):
        administration.add_user(wh, actor_id="ada", user_id="newbie", display_name=broken, role="auditor",
                                site_id=None, initial_password=NEW_INITIAL, reason="x", password="\ud800")
    with pytest.raises(administration.Refused, match="A reason is required"):
        administration.reset_password(wh, actor_id="ada", user_id="lee", new_password=NEW_INITIAL, reason=broken,
                                      password=TEST_PASSWORD)
    assert users.get_user(wh, "newbie") is None


def test_admin_sets_and_removes_a_notification_address_signed(admin_app, admin):
    app, wh = admin_app
    client, admin_id = admin
    new_id = _unique("t.mail")
    body(add(client, app, new_id, role="site_manager", site="CHI"))

    def set_address(address, signature=TEST_PASSWORD):
        return text(call(client, app, EMAIL, ids.ADM_EMAIL_SUBMIT, **{
            ids.ADM_EMAIL_USER: new_id, ids.ADM_EMAIL_ADDRESS: address, ids.ADM_EMAIL_REASON: "on the CHI rota",
            ids.ADM_EMAIL_SIGNATURE: signature, ids.ADM_EMAIL_DONE: 0}))
    assert "is not one e-mail address" in set_address("not an address")
    assert "Signature failed" in set_address("mgr@example.org", signature="wrong")
    assert f"Notifications for {new_id} go to mgr@example.org" in set_address("mgr@example.org")
    entry = last(wh, "user_email_changed")
    assert (entry["user_id"], entry["object_id"], entry["new_value"], entry["meaning"]) == (
        admin_id, new_id, "email=mgr@example.org", administration.USERS_MEANING)
    refreshed = json.dumps(body(dash_call(client, app, USERS_REFRESH, {f"{ids.ADM_EMAIL_DONE}.data": 1})))
    assert "mgr@example.org" in refreshed
    assert f"{new_id} has no notification address now" in set_address("")
    assert last(wh, "user_email_changed")["new_value"] == "email=None"
    manager = _client(app, "t.manager.chi")
    assert call(manager, app, EMAIL, ids.ADM_EMAIL_SUBMIT, **{
        ids.ADM_EMAIL_USER: new_id, ids.ADM_EMAIL_ADDRESS: "x@example.org", ids.ADM_EMAIL_REASON: "r",
        ids.ADM_EMAIL_SIGNATURE: TEST_PASSWORD, ids.ADM_EMAIL_DONE: 0}).status_code == 403
