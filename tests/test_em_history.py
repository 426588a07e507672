"""EM history through `atmp-hub import readings` in its own process, on a copy of the sample network an
earlier process made: the generic EM export with its profile (offsets honoured, units mapped), the
rollups the trends read, the same export twice storing nothing new, and every bad row named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_cli_import import cli, count

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "sample_data" / "examples" / "em_readings.csv"
HOUR_13 = ("SELECT SUM(n) FROM reading_rollups WHERE sensor_id = 'CHI-B1-T' AND grain = 'hour' "
           "AND bucket = TIMESTAMP '2026-05-31 13:00:00'")


@pytest.fixture
def copy_of_sample(sample_network, tmp_path) -> str:
    shutil.copy(sample_network[0], tmp_path / "hub.duckdb")
    return f"duckdb:///{tmp_path / 'hub.duckdb'}"


@pytest.mark.requirement("URS-IMP-009")
def test_the_em_export_imports_with_its_profile_and_the_rollups_follow(copy_of_sample):
    url = copy_of_sample
    readings_before, hour_before = count(url, "SELECT COUNT(*) FROM readings"), count(url, HOUR_13)
    dry = cli(url, "import", "readings", str(EXAMPLE), "--profile", "generic_em_readings", "--dry-run")
    assert "dry run: readings: 12 to insert, 0 to update, 0 unchanged" in dry.stdout, (dry.stdout, dry.stderr)
    assert count(url, "SELECT COUNT(*) FROM readings") == readings_before
    done = cli(url, "import", "readings", str(EXAMPLE), "--profile", "generic_em_readings")
    assert "readings: 12 inserted" in done.stdout, done.stderr
    assert count(url, "SELECT COUNT(*) FROM readings") == readings_before + 12
    # 07:30-08:45 at -05:00 is 12:30-13:45 UTC: two readings of CHI-B1-T in hour 12, four in hour 13.
    assert count(url, "SELECT COUNT(*) FROM readings WHERE msg_id = 'import:CHI-B1-T@2026-05-31T12:30:00'") == 1
    assert count(url, HOUR_13) == hour_before + 4
    assert count(url, "SELECT COUNT(*) FROM sensor_latest") == 0  # history is never shown as live
    again = cli(url, "import", "readings", str(EXAMPLE), "--profile", "generic_em_readings")
    assert "readings: 0 inserted, 0 updated, 12 unchanged" in again.stdout, again.stderr
    assert count(url, "SELECT COUNT(*) FROM readings") == readings_before + 12
    assert count(url, HOUR_13) == hour_before + 4


@pytest.mark.requirement("URS-IMP-002", "URS-IMP-003", "URS-IMP-009")
def test_every_bad_reading_is_named_and_nothing_is_written(copy_of_sample, tmp_path):
    url = copy_of_sample
    assert cli(url, "import", "readings", str(EXAMPLE), "--profile", "generic_em_readings").returncode == 0
    readings_before = count(url, "SELECT COUNT(*) FROM readings")
    bad = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    bad.loc[0, "Value"] = "21.9"            # contradicts the stored reading
    bad.loc[1, "Sensor ID"] = "CHI-ZZ-T"    # no such sensor
    bad.loc[2, "Value"] = "n/a"
    bad.loc[5, "Timestamp"] = bad.loc[3, "Timestamp"]  # CHI-B1-RH twice at one time
    bad.loc[6, "Unit"] = "°F"               # a unit the profile does not map
    path = tmp_path / "em_bad.csv"
    bad.to_csv(path, index=False)
    done = cli(url, "import", "readings", str(path), "--profile", "generic_em_readings")
    assert done.returncode == 2
    assert "em_bad.csv row 7, column 'Unit': '°F' is not in the profile's codes for unit" in done.stderr
    # The profile's problems come first (nothing else is read until the file maps); then fix the unit.
    bad.loc[6, "Unit"] = "°C"
    bad.to_csv(path, index=False)
    done = cli(url, "import", "readings", str(path), "--profile", "generic_em_readings")
    assert done.returncode == 2
    message = done.stderr
    assert "em_bad.csv row 2, field 'sensor_id': 'CHI-ZZ-T' is not a sensor of the hub" in message
    assert "em_bad.csv row 3, field 'value': 'n/a' is not a double value" in message
    assert message.count("field 'unit'") == 0  # every other unit is the sensor's own
    assert "em_bad.csv row 6, field 'ts': CHI-B1-RH at 2026-05-31T12:45:00 repeats row 4 of the file" in message
    assert count(url, "SELECT COUNT(*) FROM readings") == readings_before
    wrong_unit = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    wrong_unit.loc[2, "Unit"] = "%RH"  # row 3 is CHI-B1-T
    wrong_unit.loc[0, "Value"] = "21.9"
    wrong_unit.to_csv(path, index=False)
    message = cli(url, "import", "readings", str(path), "--profile", "generic_em_readings").stderr
    assert "em_bad.csv row 3, field 'unit': 'pct_rh', but CHI-B1-T measures in 'degC'" in message
    # Units are checked before stored values are compared; with the unit right, the contradiction is named.
    wrong_unit.loc[2, "Unit"] = "°C"
    wrong_unit.to_csv(path, index=False)
    message = cli(url, "import", "readings", str(path), "--profile", "generic_em_readings").stderr
    assert "em_bad.csv row 1, field 'value': 21.9, but the reading of CHI-B1-T at 2026-05-31T12:30:00 is stored " \
           "as 20.4; an import does not change stored readings" in message, message


def _as_parquet(csv_path: Path, parquet_path: Path) -> Path:
    """The CSV's cells as text columns of a Parquet file (DuckDB writes it, as an export tool would)."""
    import duckdb

    with duckdb.connect() as con:
        con.read_csv(str(csv_path), all_varchar=True).write_parquet(str(parquet_path))
    return parquet_path


@pytest.mark.requirement("URS-IMP-001")
def test_a_parquet_export_imports_as_its_csv_does(copy_of_sample, tmp_path):
    url = copy_of_sample
    readings_before = count(url, "SELECT COUNT(*) FROM readings")
    path = _as_parquet(EXAMPLE, tmp_path / "em_readings.parquet")
    done = cli(url, "import", "readings", str(path), "--profile", "generic_em_readings")
    assert "readings: 12 inserted" in done.stdout, done.stderr
    assert count(url, "SELECT COUNT(*) FROM readings WHERE msg_id = 'import:CHI-B1-T@2026-05-31T12:30:00'") == 1
    assert count(url, "SELECT COUNT(*) FROM readings") == readings_before + 12
    again = cli(url, "import", "readings", str(EXAMPLE), "--profile", "generic_em_readings")  # the same rows
    assert "readings: 0 inserted, 0 updated, 12 unchanged" in again.stdout, again.stderr


def _long_history(rows: int) -> pd.DataFrame:
    """``rows`` readings of CHI-B1-T, one a minute from 2026-04-01 (inside the sample's window)."""
    times = pd.date_range("2026-04-01", periods=rows, freq="min")
    return pd.DataFrame({"sensor_id": "CHI-B1-T", "ts": [t.isoformat() for t in times],
                         "value": [f"{20 + (i % 7) / 10:.1f}" for i in range(rows)]})


@pytest.mark.requirement("URS-IMP-002", "URS-IMP-004")
def test_a_file_read_in_chunks_is_checked_across_them_and_written_all_or_nothing(copy_of_sample, tmp_path,
                                                                                   monkeypatch):
    """The chunking itself, at 7 rows a chunk in this process (a real file takes 100,000 at a time): row
    numbers count from the file's start, a repeat is found chunks apart, a bad chunk after good ones leaves
    nothing written, and the import's second reading refuses a file changed since its dry run."""
    from queries.engine.warehouse import Warehouse
    from queries.imports import em_history, importer
    from queries.imports.plan import commit, import_file, plan_import

    monkeypatch.setattr(em_history, "CHUNK_ROWS", 7)
    url = copy_of_sample
    readings_before = count(url, "SELECT COUNT(*) FROM readings")
    rollup_minutes_before = count(url, "SELECT COUNT(*) FROM reading_rollups WHERE grain = 'minute'")
    history = _long_history(30)
    bad = history.copy()
    bad.loc[19, "value"] = "warm"                 # file row 20, the third chunk
    bad.loc[24, "ts"] = bad.loc[2, "ts"]          # file row 25 repeats row 3, three chunks apart
    path = tmp_path / "history.csv"
    bad.to_csv(path, index=False)
    wh = Warehouse(url)
    try:
        with pytest.raises(importer.ImportError_) as refused:
            import_file(wh, "readings", path, audit_as="t.leader")
        assert refused.value.problems == [
            "history.csv row 20, field 'value': 'warm' is not a double value",
            "history.csv row 25, field 'ts': CHI-B1-T at 2026-04-01T00:02:00 repeats row 3 of the file"]
        assert count(url, "SELECT COUNT(*) FROM readings") == readings_before

        history.to_csv(path, index=False)
        plan = plan_import(wh, "readings", path)
        assert plan.counts == {"insert": 30, "update": 0, "unchanged": 0}
        assert len(plan.frame) == min(7, em_history.PREVIEW_ROWS) and plan.frame["msg_id"].iloc[0] == "import:CHI-B1-T@2026-04-01T00:00:00"
        history.iloc[:29].to_csv(path, index=False)  # the file changes between the dry run and the import
        with pytest.raises(importer.ImportError_, match="the file changed after its dry run; nothing was written"):
            commit(wh, plan, audit_as="t.leader")
        assert count(url, "SELECT COUNT(*) FROM readings") == readings_before

        history.to_csv(path, index=False)
        plan = plan_import(wh, "readings", path)
        # Another writer stores row 25's reading with another value after the dry run: the import's second
        # reading finds it in the fourth chunk, after three were written, and the whole import rolls back.
        with wh.transaction() as conn:
            conn.exec_driver_sql("INSERT INTO readings (sensor_id, ts, value, msg_id) VALUES ('CHI-B1-T', "
                                 "TIMESTAMP '2026-04-01 00:24:00', 99.0, 'import:CHI-B1-T@2026-04-01T00:24:00')")
        with pytest.raises(importer.ImportError_) as refused:
            commit(wh, plan, audit_as="t.leader")
        assert refused.value.problems == [
            "history.csv row 25, field 'value': 20.3, but the reading of CHI-B1-T at 2026-04-01T00:24:00 is stored "
            "as 99.0; an import does not change stored readings"]
        assert count(url, "SELECT COUNT(*) FROM readings") == readings_before + 1
        with wh.transaction() as conn:
            conn.exec_driver_sql("DELETE FROM readings WHERE msg_id = 'import:CHI-B1-T@2026-04-01T00:24:00'")

        done = import_file(wh, "readings", path, audit_as="t.leader")
        assert done.counts == {"insert": 30, "update": 0, "unchanged": 0}
        assert count(url, "SELECT COUNT(*) FROM readings") == readings_before + 30
        assert count(url, "SELECT COUNT(*) FROM reading_rollups WHERE grain = 'minute'") == rollup_minutes_before + 30
        assert count(url, "SELECT SUM(n) FROM reading_rollups WHERE sensor_id = 'CHI-B1-T' AND grain = 'hour' "
                          "AND bucket = TIMESTAMP '2026-04-01 00:00:00'") >= 30
        assert import_file(wh, "readings", path).counts == {"insert": 0, "update": 0, "unchanged": 30}
    finally:
        wh.dispose()


def test_the_command_reads_a_file_longer_than_a_chunk_whole(copy_of_sample, tmp_path):
    """Through `atmp-hub import` in its own process, a file of more than one chunk (CHUNK_ROWS + 10 rows):
    a repeat in the second chunk of a row of the first refuses it with both rows named and nothing
    written; mended, every row is stored, then the same file again stores nothing new."""
    from queries.imports import em_history

    url = copy_of_sample
    readings_before = count(url, "SELECT COUNT(*) FROM readings")
    rows = em_history.CHUNK_ROWS + 10
    history = _long_history(rows)
    bad = history.copy()
    bad.loc[rows - 1, "ts"] = bad.loc[2, "ts"]
    path = tmp_path / "long.csv"
    bad.to_csv(path, index=False)
    refused = cli(url, "import", "readings", str(path))
    assert refused.returncode == 2
    assert (f"long.csv row {rows}, field 'ts': CHI-B1-T at 2026-04-01T00:02:00 repeats row 3 of the file"
            in refused.stderr), refused.stderr
    assert count(url, "SELECT COUNT(*) FROM readings") == readings_before
    history.to_csv(path, index=False)
    done = cli(url, "import", "readings", str(path))
    assert f"readings: {rows:,} inserted, 0 updated, 0 unchanged" in done.stdout, done.stderr
    assert count(url, "SELECT COUNT(*) FROM readings") == readings_before + rows
    again = cli(url, "import", "readings", str(path))
    assert f"readings: 0 inserted, 0 updated, {rows:,} unchanged" in again.stdout, again.stderr
