"""`atmp-hub import` and `import-survey` as a newcomer runs them: a fresh process on a warehouse that an
earlier process made, on DuckDB and PostgreSQL. (The bulk-insert whitelist used to be filled only by
create_schema(), which the import commands never call: every file was refused on an existing warehouse.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import atmp_hub
from conftest import throwaway_postgres

from queries.engine.warehouse import Warehouse

ROOT = Path(__file__).resolve().parent.parent


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return atmp_hub(*args, env={"ATMP_DATABASE_URL": url})


def count(url: str, sql: str) -> int:
    wh = Warehouse(url)
    try:
        with wh.engine.connect() as conn:
            return int(conn.exec_driver_sql(sql).scalar())
    finally:
        wh.dispose()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def made_earlier(request, tmp_path):
    """A warehouse URL whose schema an earlier process created (this one, disposed before the CLI runs)."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
        wh = Warehouse(url)
        wh.create_schema()
        wh.dispose()
        yield url
    else:
        with throwaway_postgres() as url:
            wh = Warehouse(url)
            wh.create_schema()
            wh.dispose()
            yield url


@pytest.mark.requirement("URS-IMP-006")
def test_import_writes_a_file_into_an_existing_warehouse(made_earlier, tmp_path):
    data = tmp_path / "near_misses.csv"
    pd.DataFrame({"near_miss_id": ["NM-1", "NM-2"], "site_id": ["CHI", "ATL"],
                  "reported_at": ["2026-01-01T08:00:00", "2026-01-02T09:30:00"],
                  "category": ["labelling", "gowning"]}).to_csv(data, index=False)
    done = cli(made_earlier, "import", "near_misses", str(data))
    assert done.returncode == 0, done.stderr
    assert "near_misses: 2 inserted, 0 updated, 0 unchanged (sha256 " in done.stdout
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses") == 2
    assert count(made_earlier, "SELECT COUNT(*) FROM audit_log WHERE action = 'import'") == 1


def import_chi(url: str, tmp_path: Path) -> None:
    sites = tmp_path / "sites.csv"
    pd.DataFrame({"site_id": ["CHI"], "name": ["Lakeshore Medical Center"], "region": ["Midwest"],
                  "timezone": ["America/Chicago"], "kind": ["node"],
                  "onboarded_at": ["2024-01-01T00:00:00"]}).to_csv(sites, index=False)
    assert cli(url, "import", "sites", str(sites)).returncode == 0


@pytest.mark.requirement("URS-PPL-001")
def test_import_survey_writes_into_an_existing_warehouse(made_earlier, tmp_path):
    import_chi(made_earlier, tmp_path)  # a survey names a known site
    data = tmp_path / "survey.csv"
    pd.DataFrame({"site_id": ["CHI"] * 5, "team": ["manufacturing"] * 5, "wave": ["2026-Q1"] * 5,
                  "submitted_at": [f"2026-02-0{i}T10:00:00" for i in range(1, 6)],
                  **{f"q{i}": [4, 5, 3, 6, 2] for i in range(1, 8)}}).to_csv(data, index=False)
    done = cli(made_earlier, "import-survey", str(data))
    assert done.returncode == 0, done.stderr
    assert "imported 5 survey responses" in done.stdout
    assert count(made_earlier, "SELECT COUNT(*) FROM survey_responses") == 5


@pytest.mark.requirement("URS-IMP-002")
def test_import_accepts_iso_8601_times_only(made_earlier, tmp_path):
    """'now' and 'today' would stamp the moment of the import into quality data; '12/06/26' is ambiguous."""
    data = tmp_path / "near_misses.csv"
    pd.DataFrame({"near_miss_id": ["NM-1", "NM-2", "NM-3", "NM-4"], "site_id": ["CHI"] * 4,
                  "reported_at": ["now", "today", "12/06/26", "2026-01-02T09:30:00+01:00"],
                  "category": ["labelling"] * 4}).to_csv(data, index=False)
    done = cli(made_earlier, "import", "near_misses", str(data))
    assert done.returncode == 2
    for row, text in ((1, "now"), (2, "today"), (3, "12/06/26")):
        assert f"row {row}, field 'reported_at': '{text}' is not an ISO 8601 time" in done.stderr, done.stderr
    assert "row 4" not in done.stderr  # an offset is ISO 8601
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses") == 0


def test_users_demo_prints_every_login_with_its_password_and_the_address(tmp_path):
    from sample_data.demo_users import DEMO_USERS

    url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    wh.dispose()
    import_chi(url, tmp_path)  # the demo site manager's site
    done = cli(url, "users", "demo")
    assert done.returncode == 0, done.stderr
    assert "http://127.0.0.1:8050/" in done.stdout
    lines = done.stdout.splitlines()
    for user_id, _name, role, _site, password in DEMO_USERS:
        assert any(line.split()[:3] == [user_id, "password", password] and role in line for line in lines), user_id
