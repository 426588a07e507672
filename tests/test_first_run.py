"""The first run as a newcomer sees it (issue 31, points 3 and 4): `atmp-hub serve` writing to a pipe says
each start-up fact once and in plain text; the demo simulator's planned excursions are labelled simulated;
`atmp-hub import --help` lists the importable tables and their columns; a bad file names every bad row."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from live_support import free_port, ramp, seed_network

from dashboard.cli import importable_tables
from ingest.writer import IngestWriter, Message
from queries.engine.warehouse import Warehouse
from queries.imports.importer import MAX_ERRORS_SHOWN

ROOT = Path(__file__).resolve().parent.parent


def cli(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def copy_of(sample_warehouse, directory: Path) -> str:
    with sample_warehouse.engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
    path = directory / "hub.duckdb"
    shutil.copy(sample_warehouse.url.removeprefix("duckdb:///"), path)
    return f"duckdb:///{path}"


def test_serve_to_a_pipe_says_each_fact_once_in_plain_text(sample_warehouse, tmp_path):
    """The dev server on the sample network, output piped (not a terminal), with the simulator on as in
    `make run`: the sign-in page and a redirect to it requested, then stopped. The file is from before
    migration 0006 (no sensor_effective_limits view): serve brings it up to date first."""
    port = free_port()
    url = copy_of(sample_warehouse, tmp_path)
    older = Warehouse(url)
    with older.transaction() as conn:
        conn.exec_driver_sql("DROP VIEW sensor_effective_limits")
    older.dispose()
    env = {**os.environ, "ATMP_DATABASE_URL": url, "ATMP_PORT": str(port),
           "ATMP_HOST": "127.0.0.1", "ATMP_ENVIRONMENT": "development", "PYTHONUNBUFFERED": "1"}
    env.pop("ATMP_NOW", None)
    server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        statuses = []
        deadline = time.monotonic() + 90
        while not statuses and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as response:
                    statuses.append(response.status)
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.communicate()
                time.sleep(0.5)
        # Signed out, a page redirects to the sign-in page: the development server colours a 302 green.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/overview", timeout=10) as response:
            statuses.append(response.status)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            out, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            out, err = server.communicate()
    assert statuses == [200, 200], (out, err)
    both = out + err
    assert both.count("Dash is running") == 1, both
    assert both.count("This is a development server") == 1, both
    assert "\x1b[" not in both, both
    assert '"GET /login HTTP/1.1" 200' in both and '"GET /overview HTTP/1.1" 302' in both, both
    assert "Traceback" not in both, both
    upgraded = Warehouse(url)
    try:
        assert upgraded.scalar("sql/site_count") > 0
        with upgraded.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM sensor_effective_limits").scalar() > 0
    finally:
        upgraded.dispose()


def test_simulated_excursions_are_labelled_and_real_ones_are_warnings(duckdb_warehouse, caplog):
    """The same action-level excursion, once from the simulator's writer and once from the bridge's."""
    seed_network(duckdb_warehouse)
    start = datetime(2026, 6, 1, 11, 30)
    values = [21.0] * 5 + [22.4] * 12 + [21.0] * 3  # above the 22 degC action limit for 120 s
    lines = {}
    for source, room, sensor in (("embedded-simulator", "CHI-B1", "CHI-B1-T"), ("mqtt-bridge", "CHI-C1", "CHI-C1-T")):
        caplog.clear()
        writer = IngestWriter(duckdb_warehouse, source=source, clock=lambda: start + timedelta(minutes=30))
        with caplog.at_level(logging.INFO, logger="ingest.writer"):
            result = writer.write([Message(t, p, start) for t, p in ramp(sensor, "degC", values, start=start,
                                                                           step_s=10, tag=source)])
        assert [(c.kind, c.record.level) for c in result.changes] == [("new", "action")], room
        lines[source] = [r for r in caplog.records if "excursion" in r.getMessage()]
    (simulated,), (real,) = lines["embedded-simulator"], lines["mqtt-bridge"]
    assert simulated.levelno == logging.INFO
    assert simulated.getMessage().startswith("simulated excursion ") and "embedded-simulator" in simulated.getMessage()
    assert real.levelno == logging.WARNING and "simulat" not in real.getMessage()


def test_import_help_lists_every_table_and_its_columns():
    result = cli({}, "import", "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # a table's columns may wrap over lines
    assert "all or nothing" in text and "queries/schema.sql" in text
    for table, columns in importable_tables().items():
        assert f" {table}:" in text, table
        for name, kind, required in columns:
            assert f" {name}{'*' if required else ''} ({kind})" in text, (table, name)
    assert set(importable_tables()) >= {"deviations", "batches", "capas", "sites"}


def _near_misses(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"near_miss_id": [f"NM-{i:05d}" for i in range(1, rows + 1)], "site_id": "CHI",
                         "reported_at": "2026-01-01T00:00:00", "category": "labelling", "description": "x"})


def test_import_names_every_bad_row_and_field_in_one_run(tmp_path):
    url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    wh.dispose()
    frame = _near_misses(6)
    frame.loc[1, "reported_at"] = "yesterday"  # row 2
    frame.loc[3, "site_id"] = None  # row 4: required
    frame.loc[4, "near_miss_id"] = "NM-00001"  # row 5: repeats row 1's key
    frame.to_csv(tmp_path / "bad.csv", index=False)
    result = cli({"ATMP_DATABASE_URL": url}, "import", "near_misses", str(tmp_path / "bad.csv"))
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("bad.csv row")]
    assert len(problems) == 3, result.stderr
    assert sorted(line.split(":")[0] for line in problems) == [  # by field, then the repeated keys
        "bad.csv row 2, field 'reported_at'", "bad.csv row 4, field 'site_id'", "bad.csv row 5, field 'near_miss_id'"]

    many = _near_misses(MAX_ERRORS_SHOWN + 7)
    many["reported_at"] = "not a time"
    many.to_csv(tmp_path / "many.csv", index=False)
    result = cli({"ATMP_DATABASE_URL": url}, "import", "near_misses", str(tmp_path / "many.csv"))
    assert result.returncode == 2
    shown = [line for line in result.stderr.splitlines() if line.startswith("many.csv row")]
    assert len(shown) == MAX_ERRORS_SHOWN and shown[-1].startswith(f"many.csv row {MAX_ERRORS_SHOWN}, field")
    assert "... and 7 more" in result.stderr
    assert "imported" not in result.stdout


def test_output_piped_into_a_reader_that_left_ends_without_a_traceback():
    """`atmp-hub settings | head -1`: the reader is gone before the command writes (closed here at once,
    while the command still imports), so every write meets a closed pipe."""
    command = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "settings"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    command.stdout.close()
    stderr = command.stderr.read()
    assert command.wait(timeout=120) == 1
    assert stderr == "", stderr
