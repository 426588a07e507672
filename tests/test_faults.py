"""Faults survived: the warehouse going away and coming back, a full disk, a read-only file, a kill
during an import. Each uses the real thing (PostgreSQL refusing connections, a tiny tmpfs, SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import PASSWORDS, TEST_PASSWORD, _pg_admin, dash_call, throwaway_postgres
from sqlalchemy import text

from dashboard import ids
from queries.engine.warehouse import Warehouse, WarehouseUnavailable
from queries.imports.importer import ImportError_
from queries.imports.plan import import_file
from queries.records import users

pytestmark = pytest.mark.faults

OVERVIEW_OUTPUTS = list(ids.OV_REFRESH)
ROOT = Path(__file__).resolve().parent.parent


def _site(site_id: str) -> dict:
    return {"site_id": site_id, "name": f"Site {site_id}", "region": "US", "timezone": "America/Chicago",
            "kind": "node", "onboarded_at": pd.Timestamp("2024-01-01")}


def _set_connections(database: str, allowed: bool) -> None:
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                         {"d": database})
    admin.dispose()


@pytest.mark.requirement("URS-ING-010")
@pytest.mark.postgres
def test_warehouse_outage_shows_banner_and_recovers(hub_app, monkeypatch):
    with throwaway_postgres() as url:
        database = url.rsplit("/", 1)[1]
        wh = Warehouse(url)
        wh.create_schema()
        with wh.transaction() as conn:
            wh.bulk_insert(conn, "sites", pd.DataFrame([_site("CHI"), _site("ATL")]))
        role, site = PASSWORDS["t.leader"]
        users.add_user(wh, user_id="t.leader", display_name="t.leader", role=role, site_id=site,
                       password=TEST_PASSWORD)
        monkeypatch.setitem(hub_app.server.extensions, "atmp_warehouse", wh)
        client = hub_app.server.test_client()
        client.post("/login", data={"username": "t.leader", "password": TEST_PASSWORD},
                    headers={"Origin": "http://localhost"})
        before = dash_call(client, hub_app, OVERVIEW_OUTPUTS, {"overview-window.value": 90})
        assert before.status_code == 200 and "Site CHI" in before.get_data(as_text=True)

        _set_connections(database, False)
        try:
            down = dash_call(client, hub_app, OVERVIEW_OUTPUTS, {"overview-window.value": 90})
            body = down.get_data(as_text=True)
            assert down.status_code == 200, body
            assert json.loads(body)["sideUpdate"]["warehouse-banner"] == {"is_open": True}
            assert "Traceback" not in body and "SELECT" not in body and "psycopg" not in body
            health = dash_call(client, hub_app, ["warehouse-banner"], {"health-tick.n_intervals": 1})
            assert health.get_json()["response"]["warehouse-banner"]["is_open"] is True
        finally:
            _set_connections(database, True)

        health = dash_call(client, hub_app, ["warehouse-banner"], {"health-tick.n_intervals": 2})
        assert health.get_json()["response"]["warehouse-banner"]["is_open"] is False
        after = dash_call(client, hub_app, OVERVIEW_OUTPUTS, {"overview-window.value": 90})
        assert after.status_code == 200 and "Site CHI" in after.get_data(as_text=True)
        wh.dispose()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MiB tmpfs (root only, as in CI); unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.requirement("URS-IMP-002")
def test_disk_full_import_is_refused_cleanly(tiny_disk, tmp_path):
    wh = Warehouse(f"duckdb:///{tiny_disk / 'hub.duckdb'}")
    wh.create_schema()
    big = tmp_path / "near_misses.csv"
    pd.DataFrame({"near_miss_id": [f"NM-{i:07d}" for i in range(200_000)], "site_id": "CHI",
                  "reported_at": "2026-01-01T00:00:00", "category": "labelling",
                  # random text: DuckDB cannot compress it into the 3 MiB disk
                  "description": [os.urandom(32).hex() for _ in range(200_000)]}).to_csv(big, index=False)
    with pytest.raises(ImportError_) as refused:
        import_file(wh, "near_misses", big)
    message = str(refused.value)
    assert "nothing was written" in message and "near_misses.csv" in message
    wh.dispose()
    # The file still opens and holds no partial import.
    check = Warehouse(f"duckdb:///{tiny_disk / 'hub.duckdb'}")
    assert check.query("test/near_miss_count").iat[0, 0] == 0
    check.dispose()


def test_read_only_file_gives_a_clear_error(tiny_disk):
    wh = Warehouse(f"duckdb:///{tiny_disk / 'hub.duckdb'}")
    wh.create_schema()
    wh.dispose()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    reopened = Warehouse(f"duckdb:///{tiny_disk / 'hub.duckdb'}")
    with pytest.raises(WarehouseUnavailable) as unavailable:
        reopened.query("sql/ping")
    assert "read-only" in str(unavailable.value).lower() and "hub.duckdb" in str(unavailable.value)
    reopened.dispose()


def _start_import(url: str, tmp_path: Path, rows: int) -> subprocess.Popen:
    """`atmp-hub import near_misses` of a generated file, as its own process (stderr piped)."""
    data = tmp_path / "near_misses.csv"
    pd.DataFrame({"near_miss_id": [f"NM-{i:07d}" for i in range(rows)], "site_id": "CHI",
                  "reported_at": "2026-01-01T00:00:00", "category": "labelling"}).to_csv(data, index=False)
    env = {**os.environ, "ATMP_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "dashboard.cli", "import", "near_misses", str(data)],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


@pytest.mark.requirement("URS-IMP-002")
@pytest.mark.postgres
def test_kill_in_the_middle_of_the_write_leaves_no_partial_rows(tmp_path):
    """PostgreSQL shows that the kill landed mid-write: the table's pages grow with the import's
    uncommitted rows (pg_relation_size), the process is killed then, and not one row remains."""
    with throwaway_postgres() as url:
        wh = Warehouse(url)
        wh.create_schema()
        wh.dispose()
        rows = 300_000
        proc = _start_import(url, tmp_path, rows)
        for line in proc.stderr:  # validation done: the single write transaction starts now
            if "writing to near_misses in one transaction" in line:
                break
        watcher = Warehouse(url)
        size = "SELECT pg_relation_size('near_misses')"
        deadline = time.monotonic() + 60
        with watcher.engine.connect() as conn:
            while conn.exec_driver_sql(size).scalar() == 0 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            written_pages = conn.exec_driver_sql(size).scalar()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the import finished before the kill: use a bigger file"
        assert written_pages > 0, "the kill must land after rows were written"
        with watcher.engine.connect() as conn:
            for _ in range(200):  # the server aborts the transaction once it sees the client gone
                busy = conn.exec_driver_sql("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                                            "AND pid <> pg_backend_pid() AND state <> 'idle'").scalar()
                if not busy:
                    break
                time.sleep(0.05)
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM near_misses").scalar() == 0
        watcher.dispose()


@pytest.mark.requirement("URS-IMP-002")
def test_kill_during_import_leaves_no_partial_rows(tmp_path):
    db = tmp_path / "hub.duckdb"
    wh = Warehouse(f"duckdb:///{db}")
    wh.create_schema()
    wh.dispose()
    rows = 300_000
    proc = _start_import(f"duckdb:///{db}", tmp_path, rows)
    deadline = time.time() + 120
    for line in proc.stderr:  # validation done: the single write transaction starts now
        if "writing to near_misses in one transaction" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    after = Warehouse(f"duckdb:///{db}")
    count = after.query("sql/ping")  # the file opens (the WAL of the killed writer is replayed or dropped)
    assert count.iat[0, 0] == 1
    written = after.query("test/near_miss_count")
    assert written.iat[0, 0] in (0, rows), "an import is all or nothing, even when killed"
    after.dispose()
