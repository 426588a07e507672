"""The watched drop folder through `atmp-hub watch-imports` as its own process on a warehouse an earlier
process made: files imported with their inbox's profile and moved to done/ with a report, a bad file moved
to rejected/ with every problem named (and audited), the same file never imported twice, a file still
being written left alone, and a watcher killed mid-import resumed by the next run without a double."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_cli_import import cli, count, made_earlier  # noqa: F401 (a fixture)
from test_import_profiles import EXAMPLE, with_sites  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parent.parent


def near_misses(path: Path, ids: list[str], reported: str = "2026-01-01T08:00:00") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"near_miss_id": ids, "site_id": "CHI", "reported_at": reported,
                  "category": "labelling"}).to_csv(path, index=False)
    os.utime(path, (time.time() - 60, time.time() - 60))  # settled: written a minute ago
    return path


def watch_once(url: str, drop: Path) -> subprocess.CompletedProcess:
    # Settled files are a minute old; a file touched just before is "still being written" (30 s of margin
    # for a slow start of the command on a busy machine).
    return cli(url, "watch-imports", str(drop), "--once", "--settle", "30")


@pytest.mark.requirement("URS-IMP-003", "URS-IMP-006", "URS-IMP-008", "URS-IMP-010")
def test_dropped_files_are_imported_rejected_and_never_twice(with_sites, tmp_path):  # noqa: F811
    url, drop = with_sites, tmp_path / "drop"
    (drop / "deviations@generic_eqms_deviations").mkdir(parents=True)
    export = drop / "deviations@generic_eqms_deviations" / "eqms_deviations.csv"
    export.write_bytes(EXAMPLE.read_bytes())
    os.utime(export, (time.time() - 60, time.time() - 60))
    near_misses(drop / "near_misses" / "good.csv", ["NM-1", "NM-2"])
    near_misses(drop / "near_misses" / "bad.csv", ["NM-3", "NM-4"], reported="yesterday")
    writing = near_misses(drop / "near_misses" / "still-writing.csv", ["NM-9"])
    os.utime(writing)  # changed just now: a writer may still be at it
    (drop / "no_such_table").mkdir()

    done = watch_once(url, drop)
    assert done.returncode == 0, done.stderr
    today = sorted((drop / "done").iterdir())[-1].name
    assert (drop / "done" / today / "eqms_deviations.csv").read_bytes() == EXAMPLE.read_bytes()
    report = (drop / "done" / today / "eqms_deviations.csv.report.txt").read_text()
    assert "imported into deviations: 3 inserted, 0 updated, 0 unchanged; sha256 " in report
    assert "profile generic_eqms_deviations" in report
    assert count(url, "SELECT COUNT(*) FROM deviations") == 3
    assert count(url, "SELECT COUNT(*) FROM near_misses") == 2
    rejected = (drop / "rejected" / today / "bad.csv.report.txt").read_text()
    assert "bad.csv row 1, field 'reported_at': 'yesterday' is not an ISO 8601 time" in rejected
    assert "bad.csv row 2, field 'reported_at'" in rejected
    assert (drop / "rejected" / today / "bad.csv").is_file()
    assert count(url, "SELECT COUNT(*) FROM audit_log WHERE action = 'import_rejected' AND object_id = 'bad.csv' "
                      "AND user_id = 'drop-folder'") == 1
    assert writing.is_file()  # left for the next scan
    assert "no_such_table" in done.stderr  # named, not guessed at
    assert not list((drop / "processing").rglob("*.csv"))

    # The same export dropped again: recognised by its hash, not imported a second time.
    export.write_bytes(EXAMPLE.read_bytes())
    os.utime(export, (time.time() - 60, time.time() - 60))
    again = watch_once(url, drop)
    assert "already imported" in again.stdout, again.stdout
    assert (drop / "done" / today / "eqms_deviations (2).csv.report.txt").read_text().count("not imported again") == 1
    assert count(url, "SELECT COUNT(*) FROM audit_log WHERE action = 'import' AND object_type = 'deviations'") == 1

    # The next export closes a deviation: the change is in the report and audited with its old and new
    # value, the delivery being the reason (no person is there to give one).
    later = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    later.loc[1, "Date Closed"] = "06/02/2026 11:00"
    june = drop / "deviations@generic_eqms_deviations" / "eqms_deviations_june.csv"
    later.to_csv(june, index=False)
    os.utime(june, (time.time() - 60, time.time() - 60))
    assert watch_once(url, drop).returncode == 0
    report = (drop / "done" / today / "eqms_deviations_june.csv.report.txt").read_text()
    assert "changed: row 2, EQMS-2026-0102, closed_at: None -> '2026-06-02 15:00:00'" in report, report
    assert count(url, "SELECT COUNT(*) FROM audit_log WHERE action = 'import_update' AND object_id = 'EQMS-2026-0102' "
                      "AND user_id = 'drop-folder' AND reason = 'changed in the source system; delivered to the drop "
                      "folder as eqms_deviations_june.csv' AND new_value = '{\"closed_at\": \"2026-06-02 15:00:00\"}'") == 1


@pytest.mark.requirement("URS-IMP-006", "URS-IMP-008")
@pytest.mark.faults
def test_a_watcher_killed_mid_import_is_resumed_once(tmp_path):
    """The watcher is killed while its one write transaction runs; the file stays in processing/ and no
    row is written; the next run imports it exactly once and moves it to done/."""
    from queries.engine.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    wh.dispose()
    drop = tmp_path / "drop"
    rows = 100_000  # the write takes about a second: a kill after the log line lands in it or just after
    near_misses(drop / "near_misses" / "big.csv", [f"NM-{i:07d}" for i in range(rows)])
    env = {**os.environ, "ATMP_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "watch-imports", str(drop), "--once"],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # validated: the single write transaction starts now
        if "writing to near_misses in one transaction" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert (drop / "processing" / "near_misses" / "big.csv").is_file()
    assert count(url, "SELECT COUNT(*) FROM near_misses") in (0, rows)  # all or nothing, even killed
    resumed = watch_once(url, drop)
    assert resumed.returncode == 0, resumed.stderr
    assert count(url, "SELECT COUNT(*) FROM near_misses") == rows
    assert count(url, "SELECT COUNT(*) FROM audit_log WHERE action = 'import'") == 1
    assert not (drop / "processing" / "near_misses" / "big.csv").exists()
    assert len(list((drop / "done").rglob("big*.csv"))) == 1


@pytest.mark.requirement("URS-IMP-008")
def test_the_app_watches_its_drop_folder(sample_network, tmp_path):
    """ATMP_IMPORT_DROP_DIR: a freshly started `atmp-hub serve` watches the folder itself (with DuckDB, the
    one process that may open the file); its first scan runs as it starts."""
    import shutil

    from conftest import TEST_END
    from live_support import free_port, wait_for

    shutil.copy(sample_network[0], tmp_path / "hub.duckdb")
    url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
    drop = tmp_path / "drop"
    near_misses(drop / "near_misses" / "from-the-eqms.csv", ["NMW-1", "NMW-2"])
    env = {**os.environ, "ATMP_DATABASE_URL": url, "ATMP_PORT": str(free_port()), "ATMP_HOST": "127.0.0.1",
           "ATMP_NOW": TEST_END.isoformat(), "ATMP_IMPORT_DROP_DIR": str(drop), "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        report = wait_for(lambda: next(drop.glob("done/*/from-the-eqms.csv.report.txt"), None)
                          or (server.poll() is not None and pytest.fail(server.communicate()[1][-2000:])),
                          90, interval=0.5, message="the served app to import the dropped file")
        assert "2 inserted" in report.read_text()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
    assert count(url, "SELECT COUNT(*) FROM near_misses WHERE near_miss_id LIKE 'NMW-%'") == 2
    assert count(url, "SELECT COUNT(*) FROM audit_log WHERE action = 'import' AND user_id = 'drop-folder'") == 1
