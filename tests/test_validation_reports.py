"""Validation reports registered in the warehouse and signed in the app (queries/records/validation_reports.py,
dashboard/pages/validation.py): review then approval by another person, each signature naming the JSON
record's hash and refused once the file changed; audited; kept as signed (DuckDB and PostgreSQL); then through
the page's callbacks as the signed-in user."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest
from conftest import TEST_PASSWORD, dash_call
from sqlalchemy import text

from dashboard import ids
from queries.engine.warehouse import Warehouse
from queries.records import users
from queries.records import validation_reports as vr

NOW = datetime(2026, 12, 8, 10, 0)
pytestmark = pytest.mark.requirement("URS-VAL-004")


def written_report(folder: Path, report_id: str = "9b1f0c2e-report") -> dict:
    """A report as `atmp-hub validate` leaves it: its JSON record and PDF in one folder."""
    record = {"report": {"id": report_id, "created": "2026-12-08T09:55:00+00:00"},
              "summary": {"verdict": "passed: no deviation", "deviations": 0, "requirements": 3,
                          "verified_by_test": 3, "verifiable_by_test": 3},
              "code": {"git_commit": "0123456789abcdef"}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / vr.JSON_NAME).write_text(json.dumps(record), encoding="utf-8")
    (folder / vr.PDF_NAME).write_bytes(b"%PDF-1.4 a report")
    return record


@pytest.fixture
def signers(warehouse: Warehouse) -> Warehouse:
    for user_id, role in (("lead.a", "leadership"), ("lead.b", "leadership"), ("aud", "auditor")):
        users.add_user(warehouse, user_id=user_id, display_name=user_id, role=role, site_id=None,
                       password=TEST_PASSWORD)
    return warehouse


def sign(wh, user_id, meaning, role="leadership", report_id="9b1f0c2e-report", password=TEST_PASSWORD,
         comment="Read the checks and the traceability; no deviation."):
    return vr.sign(wh, user_id=user_id, role=role, report_id=report_id, meaning=meaning, comment=comment,
                   password=password, now=NOW)


def audited(wh) -> list[tuple]:
    return [(r.action, r.user_id, r.object_id) for r in wh.query("sql/audit_all").itertuples()]


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_report_is_reviewed_then_approved_by_another_person(signers, tmp_path):
    wh = signers
    folder = tmp_path / "report"
    written_report(folder)
    registered = vr.register(wh, folder, json.loads((folder / vr.JSON_NAME).read_text()), by="qa.runner", now=NOW)
    assert registered["json_sha256"] == hashlib.sha256((folder / vr.JSON_NAME).read_bytes()).hexdigest()
    assert ("validation_report_registered", "qa.runner", "9b1f0c2e-report") in audited(wh)
    [listed] = vr.reports(wh)
    assert (listed["files"], listed["signatures"]) == ("files match their registered SHA-256", [])

    with pytest.raises(vr.Refused, match="Approval comes after review"):
        sign(wh, "lead.a", "approved")
    with pytest.raises(vr.Refused, match="quality leadership"):
        sign(wh, "aud", "reviewed", role="auditor")
    with pytest.raises(vr.Refused, match="password does not match"):
        sign(wh, "lead.a", "reviewed", password="wrong")
    with pytest.raises(vr.Refused, match="A comment is required"):
        sign(wh, "lead.a", "reviewed", comment="  ")
    assert vr.reports(wh)[0]["signatures"] == []

    reviewed = sign(wh, "lead.a", "reviewed")
    assert reviewed.json_sha256 == registered["json_sha256"]
    with pytest.raises(vr.Refused, match="already reviewed, by lead.a"):
        sign(wh, "lead.b", "reviewed")
    with pytest.raises(vr.Refused, match="another person than the reviewer"):
        sign(wh, "lead.a", "approved")
    sign(wh, "lead.b", "approved")

    signatures = {s["meaning"]: s for s in vr.reports(wh)[0]["signatures"]}
    assert {m: s["signed_by"] for m, s in signatures.items()} == {"reviewed": "lead.a", "approved": "lead.b"}
    assert {s["json_sha256"] for s in signatures.values()} == {registered["json_sha256"]}
    trail = audited(wh)
    assert ("validation_report_reviewed", "lead.a", "9b1f0c2e-report") in trail
    assert ("validation_report_approved", "lead.b", "9b1f0c2e-report") in trail
    assert ("validation_report_signature_refused", "aud", "9b1f0c2e-report") in trail
    assert ("esignature_failed", "lead.a", "9b1f0c2e-report") in trail
    assert ("validation_report_signature_refused", "lead.a", "9b1f0c2e-report") in trail  # approving own review
    entry = wh.query("sql/audit_all").query("action == 'validation_report_approved'").iloc[0]
    assert entry["meaning"] == vr.MEANINGS["approved"]
    assert json.loads(entry["new_value"])["json_sha256"] == registered["json_sha256"]


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_report_whose_file_changed_cannot_be_signed(signers, tmp_path):
    folder = tmp_path / "report"
    vr.register(signers, folder, written_report(folder), by="cli", now=NOW)
    record = json.loads((folder / vr.JSON_NAME).read_text())
    record["summary"]["deviations"] = 0 if record["summary"]["deviations"] else 1
    (folder / vr.JSON_NAME).write_text(json.dumps(record), encoding="utf-8")
    assert vr.reports(signers)[0]["files"] == f"changed or missing since registration: {vr.JSON_NAME}"
    with pytest.raises(vr.Refused, match="no longer has the SHA-256 it was registered with"):
        sign(signers, "lead.a", "reviewed")
    (folder / vr.PDF_NAME).unlink()
    assert vr.reports(signers)[0]["files"].endswith(f"{vr.JSON_NAME}, {vr.PDF_NAME}")
    assert vr.reports(signers)[0]["signatures"] == []


@pytest.mark.postgres
@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_registered_reports_and_signatures_are_kept_as_signed_on_postgresql(signers, tmp_path):
    folder = tmp_path / "report"
    vr.register(signers, folder, written_report(folder), by="cli", now=NOW)
    sign(signers, "lead.a", "reviewed")
    for statement in ("UPDATE validation_signatures SET signed_by = 'someone'", "DELETE FROM validation_signatures",
                      "UPDATE validation_reports SET verdict = 'passed'", "DELETE FROM validation_reports"):
        with pytest.raises(Exception, match="signed records"), signers.engine.begin() as conn:
            conn.execute(text(statement))
    assert vr.reports(signers)[0]["signatures"][0]["signed_by"] == "lead.a"


# --- through the page's callbacks (the session's sample network) ---------------------------------------
LISTED = [ids.VAL_REPORTS, ids.VAL_REPORT]
SIGN = [ids.VAL_RESULT, ids.VAL_PASSWORD, ids.VAL_COMMENT, ids.VAL_DONE]


def submit(client, app, report_id, meaning):
    return dash_call(client, app, SIGN, {f"{ids.VAL_SUBMIT}.n_clicks": 1}, {
        f"{ids.VAL_REPORT}.value": report_id, f"{ids.VAL_MEANING}.value": meaning,
        f"{ids.VAL_COMMENT}.value": "Reviewed on screen", f"{ids.VAL_PASSWORD}.value": TEST_PASSWORD,
        f"{ids.VAL_DONE}.data": 0})


def test_signing_on_the_page_is_the_signed_in_user_s_and_the_role_is_the_server_s(make_client, hub_app,
                                                                                 sample_warehouse, tmp_path):
    report_id = f"page-{tmp_path.name}"
    folder = tmp_path / "report"
    vr.register(sample_warehouse, folder, written_report(folder, report_id), by="cli", now=NOW)
    auditor, leader = make_client("t.auditor"), make_client("t.leader")

    seen = dash_call(auditor, hub_app, LISTED, {f"{ids.VAL_DONE}.data": 0})
    assert seen.status_code == 200 and report_id in json.dumps(seen.get_json()["response"][ids.VAL_REPORTS])
    refused = submit(auditor, hub_app, report_id, "reviewed")
    assert refused.status_code == 200 and "signed by quality leadership" in json.dumps(refused.get_json())
    assert dash_call(make_client("t.display"), hub_app, LISTED, {f"{ids.VAL_DONE}.data": 0}).status_code == 403

    done = submit(leader, hub_app, report_id, "reviewed")
    assert f"Report {report_id} reviewed by t.leader" in json.dumps(done.get_json())
    row = next(r for r in vr.reports(sample_warehouse) if r["report_id"] == report_id)
    assert [(s["meaning"], s["signed_by"]) for s in row["signatures"]] == [("reviewed", "t.leader")]
    again = submit(leader, hub_app, report_id, "approved")
    assert "another person than the reviewer" in json.dumps(again.get_json())


def test_the_report_files_are_served_to_the_page_s_roles_while_they_keep_their_hash(make_client, hub_app,
                                                                                   sample_warehouse, tmp_path):
    report_id = f"files-{tmp_path.name}"
    folder = tmp_path / "report"
    vr.register(sample_warehouse, folder, written_report(folder, report_id), by="cli", now=NOW)
    url = f"/validation/report/{report_id}"
    pdf = make_client("t.auditor").get(f"{url}/pdf")
    assert pdf.status_code == 200 and pdf.data == (folder / vr.PDF_NAME).read_bytes()
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert f"validation-{report_id}.pdf" in pdf.headers["Content-Disposition"]
    downloads = sample_warehouse.query("sql/audit_all").query(
        "action == 'validation_report_downloaded' and object_id == @report_id")
    assert list(downloads["user_id"]) == ["t.auditor"]
    assert json.loads(downloads.iloc[0]["new_value"])["sha256"] == hashlib.sha256(pdf.data).hexdigest()

    assert make_client("t.display").get(f"{url}/json").status_code == 403
    assert ("validation_report_download_refused", "t.display", report_id) in audited(sample_warehouse)
    assert make_client("t.leader").get(f"{url}/csv").status_code == 404
    assert make_client("t.leader").get("/validation/report/no-such-report/pdf").status_code == 404
    (folder / vr.JSON_NAME).write_text("{}", encoding="utf-8")
    changed = make_client("t.leader").get(f"{url}/json")
    assert changed.status_code == 409 and b"no longer has the SHA-256" in changed.data
    anonymous = hub_app.server.test_client().get(f"{url}/pdf")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"], anonymous.status_code
