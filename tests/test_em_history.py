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
