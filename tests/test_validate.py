"""`atmp-hub validate` (validation/): the installation qualification run as the operator runs it, on a
warehouse an earlier process made, and the operational qualification's run of marked tests and its rule."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest
from cli_runner import atmp_hub
from conftest import TEST_END, throwaway_postgres
from pypdf import PdfReader
from sqlalchemy import text

from queries.engine import migrate
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse
from queries.kpi import catalog
from queries.records import validation_reports
from validation import qualify, requirements

pytestmark = pytest.mark.requirement("URS-VAL-001")


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def installed(request, tmp_path):
    """The URL of a warehouse whose schema an earlier process brought up to date (Alembic on PostgreSQL)."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
        wh = Warehouse(url)
        wh.create_schema()
        wh.dispose()
        yield url
    else:
        with throwaway_postgres() as url:
            wh = Warehouse(url)
            migrate.upgrade(wh)
            wh.dispose()
            yield url


def validate(url: str, out: Path, *args: str, env: dict[str, str] | None = None):
    return atmp_hub("validate", "--iq-only", "--out", str(out), *args,
                    env={"ATMP_DATABASE_URL": url, **(env or {})}, timeout=300)


def test_the_installation_qualification_writes_a_json_record_and_a_pdf_that_say_the_same(installed, tmp_path):
    out = tmp_path / "report"
    done = validate(installed, out)
    assert done.returncode == 1, done.stderr  # development settings and no OQ: deviations, said
    record_bytes = (out / "validation-report.json").read_bytes()
    sha = hashlib.sha256(record_bytes).hexdigest()
    assert f"SHA-256 {sha}" in done.stdout
    record = json.loads(record_bytes)
    checks = {c["id"]: c for c in record["checks"]}
    assert checks["IQ-04"]["result"] == "pass", checks["IQ-04"]
    assert ("Alembic" in checks["IQ-04"]["observed"]) == installed.startswith("postgresql")
    assert checks["IQ-02"]["result"] == "pass", checks["IQ-02"]["observed"]
    assert (checks["IQ-05"]["result"], checks["IQ-05"]["observed"]) == ("fail", "development")
    catalogue = requirements.load()
    assert [r["id"] for r in record["requirements"]] == list(catalogue.requirements)
    assert {r["result"] for r in record["requirements"] if r["verification"] == "test"} == {"OQ not run"}
    assert "OQ not run (--iq-only): no requirement is verified by this report" in record["deviations"]
    assert record["summary"]["deviations"] == len(record["deviations"])
    assert record["code"]["files"] == len(record["code"]["manifest"])
    assert record["code"]["manifest"]["validation/qualify.py"] == hashlib.sha256(
        Path(qualify.__file__).read_bytes()).hexdigest()
    # Registered in the deployed warehouse by the files' hashes, awaiting signatures.
    wh = Warehouse(installed)
    try:
        [registered] = validation_reports.reports(wh)
    finally:
        wh.dispose()
    assert (registered["report_id"], registered["json_sha256"]) == (record["report"]["id"], sha)
    assert registered["files"] == "files match their registered SHA-256" and registered["signatures"] == []
    assert f"registered as {record['report']['id']}" in done.stdout
    pdf = PdfReader(out / "validation-report.pdf")
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert sha in text.replace("\n", "")
    assert f"not passed: {len(record['deviations'])} deviation(s)" in text
    for rid in list(catalogue.requirements)[:5]:
        assert rid in text


def test_production_settings_pass_and_a_missing_column_fails_the_schema_check(tmp_path):
    key = tmp_path / "audit.key"
    key.write_bytes(b"k" * 48)
    url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    with wh.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE excursions DROP COLUMN acknowledged_by")
    wh.dispose()
    done = validate(url, tmp_path / "report", env={
        "ATMP_ENVIRONMENT": "production", "ATMP_SECRET_KEY": "s" * 40, "ATMP_SECURE_COOKIES": "true",
        "ATMP_AUDIT_KEY_FILE": str(key), "ATMP_SMTP_URL": "smtp://127.0.0.1:2525?starttls=true",
        "ATMP_MQTT_URL": "mqtt://127.0.0.1:1883"})
    assert done.returncode == 1, done.stderr
    checks = {c["id"]: c for c in json.loads((tmp_path / "report" / "validation-report.json").read_text())["checks"]}
    assert [checks[i]["result"] for i in ("IQ-05", "IQ-06", "IQ-07", "IQ-08", "IQ-09")] == ["pass"] * 5
    assert checks["IQ-09"]["observed"] == "starttls"
    assert (checks["IQ-10"]["result"], checks["IQ-10"]["observed"].split(" ")[0]) == ("fail", "mqtt://")
    assert checks["IQ-04"]["result"] == "fail"
    assert checks["IQ-04"]["observed"].startswith("missing: excursions.acknowledged_by")
    # A schema other than this installation's gets no registration (it may lack the reports' table).
    assert "not registered: the warehouse's schema is not this installation's" in done.stdout
    assert "Traceback" not in done.stderr
    wh = Warehouse(url)
    try:
        assert validation_reports.reports(wh) == []
    finally:
        wh.dispose()


def test_a_package_at_another_version_than_the_lock_fails_the_package_check():
    pins = qualify.locked_versions()
    assert pins["dash"], "constraints.txt locks dash"
    check = qualify.package_check({**pins, "dash": "0.0.1", "no-such-package": "1.0"})
    assert check.result == "fail"
    assert "differ: dash " in check.observed and "(locked 0.0.1)" in check.observed
    assert "not installed: no-such-package" in check.observed


def test_the_operational_qualification_runs_marked_tests_and_fails_high_risk_ones_left_untested(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    some_high = next(r.id for r in requirements.load().requirements.values() if r.risk == "high" and r.needs_test)
    (tests / "test_one.py").write_text(textwrap.dedent(f"""
        import pytest
        @pytest.mark.requirement("{some_high}")
        def test_marked(): pass
        def test_unmarked(): raise AssertionError("not selected: it names no requirement")
        """), encoding="utf-8")
    settings = Settings.from_env({"ATMP_DATABASE_URL": f"duckdb:///{tmp_path / 'hub.duckdb'}"})
    checks, trace = qualify.operational(settings, tmp_path, workers=1, tests=tests)
    by_id = {c.id: c for c in checks}
    assert (by_id["OQ-01"].result, by_id["OQ-01"].observed) == ("pass", "1 passed")
    assert by_id["OQ-02"].result == "fail"
    assert some_high not in by_id["OQ-02"].observed.split(", ")
    assert len(trace["high_risk_without_a_passing_test"]) == requirements.load().by_risk()["high"] - 1 - sum(
        1 for r in requirements.load().requirements.values() if r.risk == "high" and not r.needs_test)
    assert [nodeid.rsplit("::", 1)[1] for nodeid in trace["tests"]] == ["test_marked"]


def test_the_deployed_warehouse_is_read_for_the_kpis_and_left_byte_for_byte_as_it_was(sample_network, tmp_path):
    path = tmp_path / "deployed.duckdb"
    path.write_bytes(sample_network[0].read_bytes())
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    settings = Settings.from_env({"ATMP_DATABASE_URL": f"duckdb:///{path}"})
    check = qualify.deployed_reads(settings, TEST_END)
    assert check.result == "pass", check.observed
    assert check.observed.startswith(f"{len(catalog.CATALOG)} KPIs over 9 sites in ")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    missing = qualify.deployed_reads(Settings.from_env({"ATMP_DATABASE_URL": f"duckdb:///{tmp_path / 'no.duckdb'}"}),
                                     TEST_END)
    assert missing.result == "fail" and "does not exist" in missing.observed
    assert not (tmp_path / "no.duckdb").exists()


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_read_only_warehouse_refuses_every_write_in_the_database(warehouse):
    warehouse.dispose()  # DuckDB: one process may hold the file writable, or any number read-only
    reader = Warehouse(warehouse.url, read_only=True)
    try:
        assert reader.query("sql/site_ids").empty
        with pytest.raises(Exception, match="(?i)read-only|read only"), reader.engine.begin() as conn:
            conn.execute(text("INSERT INTO sites (site_id, name, region, timezone, kind, onboarded_at) "
                              "VALUES ('X', 'x', 'EU', 'UTC', 'node', TIMESTAMP '2026-01-01')"))
    finally:
        reader.dispose()
