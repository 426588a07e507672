"""The import page through crafted requests to a served app over a copy of the sample network: upload,
dry run, import and re-import with the shipped profile; every problem by row and field with the full
report; a site manager held to the own site; auditors and displays refused and audited; another user's
upload and a profile path from the browser go nowhere."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import PASSWORDS, TEST_END, app_for, dash_call, login

from dashboard import ids
from queries.engine.warehouse import Warehouse
from queries.records import audit, users

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "sample_data" / "examples" / "eqms_deviations.csv"
DRY_RUN = [ids.IMP_DRY_RUN, ids.IMP_COMMIT, ids.IMP_REPORT, ids.IMP_RESULT]


@pytest.fixture(scope="module")
def served(sample_network, tmp_path_factory):
    """An app of its own (these tests write) over a copy of the sample network, uploads in a temp folder."""
    root = tmp_path_factory.mktemp("import-page")
    shutil.copy(sample_network[0], root / "hub.duckdb")
    wh = Warehouse(f"duckdb:///{root / 'hub.duckdb'}")
    for user_id, (role, site) in PASSWORDS.items():
        users.add_user(wh, user_id=user_id, display_name=user_id, role=role, site_id=site,
                       password="correct-horse-battery")
    app = app_for(wh, now=TEST_END.isoformat(), import_dir=str(root / "uploads"))
    yield app, wh, root / "uploads"
    wh.dispose()


def client_of(served, user_id: str):
    app = served[0]
    client = app.server.test_client()
    assert login(client, user_id).status_code == 302
    return client


def send(client, name: str, data: bytes, origin: str = "http://localhost"):
    """What the page's script does with the chosen file: its bytes as the body of POST /import/upload."""
    return client.post(f"/import/upload?name={name}", data=data,
                       headers={"Origin": origin, "Content-Type": "application/octet-stream"})


def upload(client, app, name: str, data: bytes) -> dict:
    response = send(client, name, data)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    answer = response.get_json()
    return {"sha256": answer["sha256"], "name": answer["name"]}


def step(client, app, file, table="deviations", profile="own", commit=0, reason=None):
    response = dash_call(client, app, DRY_RUN, {f"{ids.IMP_FILE}.data": file, f"{ids.IMP_TABLE}.value": table,
                                                f"{ids.IMP_PROFILE}.value": profile,
                                                f"{ids.IMP_COMMIT}.n_clicks": commit},
                         {f"{ids.IMP_REASON}.value": reason})
    return response


def text_of(response) -> str:
    return json.dumps(response.get_json())


def scalar(wh, sql: str):
    with wh.engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar()


@pytest.mark.requirement("URS-IMP-001", "URS-IMP-004", "URS-IMP-005", "URS-IMP-006", "URS-IMP-010")
def test_upload_dry_run_import_and_reimport_with_the_shipped_profile(served):
    app, wh, folder = served
    client = client_of(served, "t.leader")
    file = upload(client, app, "eqms_deviations.csv", EXAMPLE.read_bytes())
    assert (folder / file["sha256"] / "eqms_deviations.csv").read_bytes() == EXAMPLE.read_bytes()
    dry = step(client, app, file, profile="generic_eqms_deviations")
    body = dry.get_json()["response"]
    assert "3 to insert" in text_of(dry) and "0 to update" in text_of(dry)
    assert body[ids.IMP_COMMIT]["disabled"] is False and body[ids.IMP_COMMIT]["children"] == "Import: 3 new, 0 updated"
    assert scalar(wh, "SELECT COUNT(*) FROM deviations WHERE deviation_id LIKE 'EQMS-%'") == 0
    done = step(client, app, file, profile="generic_eqms_deviations", commit=1)
    assert "import-done" in text_of(done) and "3 inserted, 0 updated, 0 unchanged" in text_of(done)
    assert scalar(wh, "SELECT COUNT(*) FROM deviations WHERE deviation_id LIKE 'EQMS-%'") == 3
    audited = scalar(wh, "SELECT new_value FROM audit_log WHERE action = 'import' AND user_id = 't.leader' "
                         "ORDER BY entry_id DESC LIMIT 1")
    assert f"sha256 {file['sha256']}" in audited and "3 inserted" in audited and "generic_eqms_deviations" in audited
    # Their CAPAs, from the eQMS's CAPA export.
    capas = upload(client, app, "eqms_capas.csv", (ROOT / "sample_data/examples/eqms_capas.csv").read_bytes())
    assert "2 inserted" in text_of(step(client, app, capas, table="capas", profile="generic_eqms_capas", commit=1))
    assert scalar(wh, "SELECT COUNT(*) FROM capas WHERE deviation_id LIKE 'EQMS-%'") == 2
    # The same export again: nothing to do, and the button says so by staying off.
    again = step(client, app, upload(client, app, "eqms_deviations.csv", EXAMPLE.read_bytes()),
                 profile="generic_eqms_deviations")
    assert "0 to insert" in text_of(again) and "3 unchanged" in text_of(again)
    assert again.get_json()["response"][ids.IMP_COMMIT]["disabled"] is True
    # A later export closes one deviation: the change is listed before it is written.
    later = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    later.loc[1, "Date Closed"] = "06/02/2026 11:00"
    file = upload(client, app, "eqms_deviations_june.csv", later.to_csv(index=False).encode())
    dry = step(client, app, file, profile="generic_eqms_deviations")
    assert "1 to update" in text_of(dry) and "EQMS-2026-0102" in text_of(dry) and "2026-06-02 15:00:00" in text_of(dry)
    assert "import-changes" in text_of(dry)
    # Changing a GMP record needs a reason: without one (or only blanks) nothing is written.
    for reason in (None, "   "):
        refused = step(client, app, file, profile="generic_eqms_deviations", commit=1, reason=reason)
        assert "import-not-done" in text_of(refused) and "give the reason for the change" in text_of(refused)
    closed = "SELECT closed_at FROM deviations WHERE deviation_id = 'EQMS-2026-0102'"
    assert scalar(wh, closed) is None
    done = step(client, app, file, profile="generic_eqms_deviations", commit=1, reason="June eQMS refresh")
    assert "1 updated" in text_of(done) and str(scalar(wh, closed)) == "2026-06-02 15:00:00"
    # The changed record has an entry of its own: its old and new values, the reason, after the import's.
    entries = wh.query("test", sql="SELECT action, object_type, object_id, reason, old_value, new_value FROM audit_log "
                                   "WHERE user_id = 't.leader' ORDER BY entry_id DESC LIMIT 2")
    change, whole = entries.iloc[0], entries.iloc[1]
    assert (whole["action"], whole["reason"]) == ("import", "June eQMS refresh")
    assert (change["action"], change["object_type"], change["object_id"]) == ("import_update", "deviations",
                                                                             "EQMS-2026-0102")
    assert change["reason"] == "June eQMS refresh"
    assert json.loads(change["old_value"]) == {"closed_at": None}
    assert json.loads(change["new_value"]) == {"closed_at": "2026-06-02 15:00:00"}
    assert audit.verify(wh).ok


def near_miss_file(rows: int, bad: dict[int, str]) -> bytes:
    frame = pd.DataFrame({"near_miss_id": [f"NMP-{i}" for i in range(1, rows + 1)], "site_id": "CHI",
                          "reported_at": "2026-05-01T08:00:00", "category": "labelling"})
    for row, value in bad.items():
        frame.loc[row - 1, "reported_at"] = value
    return frame.to_csv(index=False).encode()


@pytest.mark.requirement("URS-IMP-003", "URS-IMP-004")
def test_every_problem_is_named_by_row_and_field_and_the_report_has_them_all(served):
    app, wh, _ = served
    client = client_of(served, "t.leader")
    file = upload(client, app, "near_misses.csv", near_miss_file(600, {500: "yesterday"}))
    dry = step(client, app, file, table="near_misses")
    assert "import-refused" in text_of(dry) and dry.get_json()["response"][ids.IMP_COMMIT]["disabled"] is True
    assert "500" in text_of(dry) and "'yesterday' is not an ISO 8601 time" in text_of(dry)
    many = upload(client, app, "many.csv", near_miss_file(300, {i: "soon" for i in range(1, 251)}))
    dry = step(client, app, many, table="near_misses")
    assert "the report has all 250" in text_of(dry)
    assert text_of(dry).count("is not an ISO 8601 time") == 200
    report = dash_call(client, app, [ids.IMP_REPORT_DOWNLOAD], {f"{ids.IMP_REPORT}.n_clicks": 1},
                       {f"{ids.IMP_FILE}.data": many, f"{ids.IMP_TABLE}.value": "near_misses",
                        f"{ids.IMP_PROFILE}.value": "own"})
    lines = list(csv.reader(io.StringIO(report.get_json()["response"][ids.IMP_REPORT_DOWNLOAD]["data"]["content"])))
    assert lines[0] == ["kind", "file", "row", "field", "reason"]
    assert len(lines) == 251 and lines[250][:4] == ["error", "many.csv", "250", "field 'reported_at'"]
    # A warning does not refuse the file: it is listed, and the import stays possible.
    future = upload(client, app, "future.csv", near_miss_file(3, {2: "2099-01-01T00:00:00"}))
    dry = step(client, app, future, table="near_misses")
    assert "import-warnings" in text_of(dry) and "'reported_at': '2099-01-01T00:00:00' is in the future (row 2)" \
        in text_of(dry)
    assert dry.get_json()["response"][ids.IMP_COMMIT]["disabled"] is False
    # Even a crafted commit of a refused file writes nothing.
    done = step(client, app, many, table="near_misses", commit=1)
    assert "import-not-done" in text_of(done)
    assert scalar(wh, "SELECT COUNT(*) FROM near_misses WHERE near_miss_id LIKE 'NMP-%'") == 0


@pytest.mark.requirement("URS-IMP-006", "URS-IMP-007")
def test_a_site_manager_imports_the_own_site_only_and_a_crafted_attempt_is_audited(served):
    app, wh, _ = served
    client = client_of(served, "t.manager.chi")
    page = dash_call(client, app, ["_pages_content", "_pages_store"],
                     {"_pages_location.pathname": "/import", "_pages_location.search": ""})
    assert "you import the rows of CHI alone (into tables that have a site) and the readings of its sensors" \
        in text_of(page)
    mixed = pd.DataFrame({"near_miss_id": ["NMS-1", "NMS-2"], "site_id": ["CHI", "ATL"],
                          "reported_at": "2026-05-01T08:00:00", "category": "labelling"})
    file = upload(client, app, "mixed.csv", mixed.to_csv(index=False).encode())
    dry = step(client, app, file, table="near_misses")
    assert "'ATL' is not your site (CHI)" in text_of(dry) and text_of(dry).count("is not your site") == 1
    done = step(client, app, file, table="near_misses", commit=1)
    assert "import-not-done" in text_of(done)
    assert scalar(wh, "SELECT COUNT(*) FROM near_misses WHERE near_miss_id LIKE 'NMS-%'") == 0
    assert scalar(wh, "SELECT COUNT(*) FROM audit_log WHERE action = 'import_refused' AND user_id = 't.manager.chi' "
                      "AND object_id = 'mixed.csv'") == 1
    # Updating another site's stored record through an own-site row is refused too.
    atl_id = scalar(wh, "SELECT deviation_id FROM deviations WHERE site_id = 'ATL' LIMIT 1")
    stored = pd.read_sql(f"SELECT * FROM deviations WHERE deviation_id = '{atl_id}'", wh.engine.connect())  # noqa: S608
    stored["site_id"] = "CHI"
    moved = upload(client, app, "moved.csv", stored.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S").encode())
    dry = step(client, app, moved, table="deviations")
    assert f"{atl_id!r} is a record of ATL, not of your site (CHI)" in text_of(dry), text_of(dry)[:800]
    # A table without a site is not offered, and forging it is refused.
    assert "import-refused" in text_of(step(client, app, file, table="sites"))
    own = mixed.iloc[:1]
    file = upload(client, app, "own.csv", own.to_csv(index=False).encode())
    assert "import-done" in text_of(step(client, app, file, table="near_misses", commit=1))
    assert scalar(wh, "SELECT COUNT(*) FROM near_misses WHERE near_miss_id = 'NMS-1'") == 1


@pytest.mark.requirement("URS-IMP-006", "URS-IMP-007", "URS-KIO-006")
@pytest.mark.parametrize("user_id", ["t.auditor", "t.display"])
@pytest.mark.requirement("URS-ACC-004")
def test_auditors_and_displays_cannot_import_and_each_attempt_is_audited(served, user_id):
    app, wh, _ = served
    client = client_of(served, user_id)
    before = scalar(wh, f"SELECT COUNT(*) FROM audit_log WHERE action = 'import_refused' AND user_id = '{user_id}'")  # noqa: S608
    refused = send(client, "eqms_deviations.csv", EXAMPLE.read_bytes())
    assert refused.status_code == 403
    assert step(client, app, {"sha256": "0" * 64, "name": "x.csv"}, commit=1).status_code == 403
    after = scalar(wh, f"SELECT COUNT(*) FROM audit_log WHERE action = 'import_refused' AND user_id = '{user_id}'")  # noqa: S608
    assert after == before + 2


@pytest.mark.requirement("URS-IMP-005")
def test_another_users_upload_and_a_profile_path_go_nowhere(served):
    app, wh, _ = served
    leader = client_of(served, "t.leader")
    file = upload(leader, app, "eqms_deviations.csv", EXAMPLE.read_bytes())
    manager = client_of(served, "t.manager.chi")
    stolen = step(manager, app, file, profile="generic_eqms_deviations")
    assert "upload the file first" in text_of(stolen) and "EQMS" not in text_of(stolen)
    for forged in ({"sha256": "../../etc", "name": "passwd"}, {"sha256": file["sha256"], "name": "../hub.duckdb"},
                   "not a dict", None):
        assert "EQMS" not in text_of(step(leader, app, forged))
    path_profile = step(leader, app, file, profile=str(ROOT / "queries/imports/profiles/generic_eqms_capas.toml"))
    assert "choose a mapping profile offered for this table" in text_of(path_profile)
    junk = send(leader, "../../evil.sh", b"x")
    assert junk.status_code == 400 and "unsupported file type" in junk.get_json()["error"]
    assert not list(served[2].rglob("evil*")) and not list((served[2] / ".incoming").iterdir())


@pytest.mark.requirement("URS-PPL-002")
def test_a_survey_tools_export_goes_through_the_anonymity_rules(served):
    app, wh, _ = served
    client = client_of(served, "t.leader")
    survey = ROOT / "sample_data" / "examples" / "survey_tool_export.csv"
    options = dash_call(client, app, [ids.IMP_PROFILE], {f"{ids.IMP_TABLE}.value": "survey_responses"})
    assert "a name or e-mail refuses the file" in text_of(options)
    file = upload(client, app, "survey_tool_export.csv", survey.read_bytes())
    assert "6 to insert" in text_of(step(client, app, file, table="survey_responses"))
    assert "import-done" in text_of(step(client, app, file, table="survey_responses", commit=1))
    assert scalar(wh, "SELECT COUNT(*) FROM survey_responses WHERE response_id LIKE 'ST-2026Q2-%'") == 6
    assert "6 unchanged" in text_of(step(client, app, file, table="survey_responses"))
    named = pd.read_csv(survey, dtype=str).assign(**{"E-mail": "someone@example.org"})
    file = upload(client, app, "named.csv", named.to_csv(index=False).encode())
    refused = step(client, app, file, table="survey_responses")
    assert "import-refused" in text_of(refused) and "could identify a person" in text_of(refused)
    manager = client_of(served, "t.manager.atl")
    file = upload(manager, app, "survey_tool_export.csv", survey.read_bytes())
    assert "'CHI' is not your site (ATL)" in text_of(step(manager, app, file, table="survey_responses"))


@pytest.mark.requirement("URS-IMP-007", "URS-IMP-009")
def test_em_history_on_the_page_and_a_manager_held_to_the_own_sensors(served):
    app, wh, _ = served
    em = ROOT / "sample_data" / "examples" / "em_readings.csv"
    manager = client_of(served, "t.manager.atl")
    file = upload(manager, app, "em_readings.csv", em.read_bytes())
    refused = step(manager, app, file, table="readings", profile="generic_em_readings")
    assert "'CHI-B1-T' is a sensor of CHI, not of your site (ATL)" in text_of(refused)
    leader = client_of(served, "t.leader")
    file = upload(leader, app, "em_readings.csv", em.read_bytes())
    assert "12 to insert" in text_of(step(leader, app, file, table="readings", profile="generic_em_readings"))
    assert "12 inserted" in text_of(step(leader, app, file, table="readings", profile="generic_em_readings", commit=1))
    assert scalar(wh, "SELECT COUNT(*) FROM readings WHERE msg_id LIKE 'import:%'") == 12


@pytest.mark.requirement("URS-IMP-002")
@pytest.mark.parametrize(("name", "data", "said"), [
    ("empty.csv", b"", "the file is empty"),
    ("header_only.csv", b"near_miss_id,site_id,reported_at,category\n", "no data rows"),
    ("missing.csv", b"near_miss_id,site_id,category\nNMX-1,CHI,labelling\n",
     "missing required column(s) reported_at"),
    ("unknown.csv", b"near_miss_id,site_id,reported_at,category,colour\nNMX-1,CHI,2026-05-01T08:00:00,labelling,red\n",
     "unknown column(s) colour"),
    ("twice.csv", b"near_miss_id,site_id,reported_at,category\nNMX-1,CHI,2026-05-01T08:00:00,labelling\n"
                  b"NMX-1,CHI,2026-05-02T08:00:00,labelling\n", "'NMX-1' repeats row 1 of the file"),
    ("latin1.csv", "near_miss_id,site_id,reported_at,category\nNMX-1,CHI,2026-05-01T08:00:00,étiquette\n"
     .encode("latin-1"), "byte 0xE9 at byte offset"),
    ("notes.txt", b"near_miss_id\nNMX-1\n", "unsupported file type"),
])
def test_malformed_uploads_are_named_and_write_nothing(served, name, data, said):
    app, wh, _ = served
    client = client_of(served, "t.leader")
    received = send(client, name, data)
    file = {"sha256": received.get_json()["sha256"], "name": name} if received.status_code == 200 else None
    answer = received.get_json()["error"] if file is None else text_of(step(client, app, file, table="near_misses"))
    assert said in answer, answer[:600]
    if file is not None:
        assert "import-not-done" in text_of(step(client, app, file, table="near_misses", commit=1))
    assert scalar(wh, "SELECT COUNT(*) FROM near_misses WHERE near_miss_id LIKE 'NMX-%'") == 0


def test_a_bom_and_an_unknown_site_do_not_stop_a_good_file(served):
    app, wh, _ = served
    client = client_of(served, "t.leader")
    data = "\ufeffnear_miss_id,site_id,reported_at,category\nNMB-1,CHI,2026-05-01T08:00:00,labelling\n" \
           "NMB-2,ZZZ,2026-05-01T09:00:00,labelling\n"
    file = upload(client, app, "bom.csv", data.encode("utf-8"))
    dry = step(client, app, file, table="near_misses")
    assert "2 to insert" in text_of(dry) and "'ZZZ' is not a site of the hub (row 2)" in text_of(dry)


def test_the_progress_of_a_dry_run_reaches_only_the_user_who_runs_it(served):
    """The page's progress bar reads a note the running dry run writes beside the upload, per user; the
    poll answers only about the asking user's own upload (another user naming its hash learns nothing),
    and the note is gone once the dry run has finished."""
    from queries.imports import uploads

    app, _, folder = served
    leader, manager = client_of(served, "t.leader"), client_of(served, "t.manager.chi")
    file = upload(leader, app, "progress.csv", EXAMPLE.read_bytes())

    def poll(client) -> str:
        response = dash_call(client, app, [ids.IMP_PROGRESS], {f"{ids.IMP_POLL}.n_intervals": 1},
                             {f"{ids.IMP_FILE}.data": file})
        assert response.status_code == 200
        return text_of(response)

    own = uploads.find(folder, file["sha256"], file["name"], "t.leader")
    uploads.write_progress(uploads.progress_path(own.path, "t.leader"), "Checking", 50_000, 200_000)  # as a run does
    assert "Checking: 50,000 of about 200,000 rows (25 %)" in poll(leader)
    assert "50,000" not in poll(manager) and "Reading the file" in poll(manager)
    assert step(leader, app, file, profile="generic_eqms_deviations").status_code == 200
    assert not uploads.progress_path(own.path, "t.leader").exists()


@pytest.mark.requirement("URS-IMP-005")
def test_the_upload_route_streams_within_the_limit_and_refuses_what_it_must(served, tmp_path):
    """POST /import/upload: a file over ATMP_IMPORT_MAX_MB is refused whether or not it says its size, and
    nothing of it stays; no session is sent to sign in; another origin is refused; a kept upload is the
    bytes sent, under their SHA-256, with who sent them."""
    import hashlib

    from queries.imports import uploads
    from queries.imports.importer import ImportError_

    _, wh, _ = served
    folder = tmp_path / "uploads"
    small = app_for(wh, now=TEST_END.isoformat(), import_dir=str(folder), import_max_mb=1)
    client = small.server.test_client()
    assert login(client, "t.leader").status_code == 302
    big = b"near_miss_id,site_id,reported_at,category\n" + b"NMZ-1,CHI,2026-05-01T08:00:00,labelling\n" * 40_000
    assert len(big) > 1_000_000
    refused = send(client, "big.csv", big)
    assert refused.status_code == 400 and "larger than 1 MB" in refused.get_json()["error"]

    # A body that does not announce its size (sent chunked): refused once it grows past the limit.
    with pytest.raises(ImportError_, match="larger than 1 MB"):
        uploads.receive(folder, io.BytesIO(big), "big.csv", "t.leader", 1_000_000, announced=None)
    assert [p.name for p in folder.rglob("*") if p.is_file()] == []  # nothing of it stays

    anonymous = small.server.test_client().post("/import/upload?name=a.csv", data=b"x",
                                                 headers={"Origin": "http://localhost"})
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert send(client, "a.csv", EXAMPLE.read_bytes(), origin="http://evil.example").status_code == 403

    kept = send(client, "eqms_deviations.csv", EXAMPLE.read_bytes())
    assert kept.status_code == 200
    sha = hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert kept.get_json() == {"sha256": sha, "name": "eqms_deviations.csv", "size": EXAMPLE.stat().st_size}
    found = uploads.find(folder, sha, "eqms_deviations.csv", "t.leader")
    assert found is not None and found.path.read_bytes() == EXAMPLE.read_bytes()
    assert uploads.find(folder, sha, "eqms_deviations.csv", "t.manager.chi") is None
