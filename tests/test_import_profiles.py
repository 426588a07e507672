"""Importing another system's export with a mapping profile (issue 14, first part): `atmp-hub import
--profile` in a fresh process on a warehouse an earlier process made, DuckDB and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from test_cli_import import cli, count, made_earlier  # noqa: F401 (a fixture)

from queries.engine.warehouse import Warehouse
from queries.imports import em_history, profiles

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "sample_data" / "examples" / "eqms_deviations.csv"
SITES = [("CHI", "America/Chicago"), ("ATL", "America/New_York"), ("SEA", "America/Los_Angeles")]


@pytest.fixture
def with_sites(made_earlier):  # noqa: F811 (the fixture imported above)
    wh = Warehouse(made_earlier)
    with wh.transaction() as conn:
        wh.bulk_insert(conn, "sites", pd.DataFrame(
            [{"site_id": s, "name": s, "region": "US", "timezone": z, "kind": "node",
              "onboarded_at": "2024-01-01"} for s, z in SITES]))
    wh.dispose()
    return made_earlier


def rows(url: str, sql: str) -> pd.DataFrame:
    wh = Warehouse(url)
    try:
        with wh.engine.connect() as conn:
            return pd.read_sql(sql, conn)
    finally:
        wh.dispose()


@pytest.mark.requirement("URS-IMP-001")
def test_a_parquet_export_is_read_as_its_csv_is(with_sites, tmp_path):
    """The eQMS export saved as Parquet (text columns, as DuckDB writes them): the same plan as the CSV's."""
    import duckdb

    path = tmp_path / "eqms_deviations.parquet"
    with duckdb.connect() as con:
        con.read_csv(str(EXAMPLE), all_varchar=True).write_parquet(str(path))
    dry = cli(with_sites, "import", "deviations", str(path), "--profile", "generic_eqms_deviations", "--dry-run")
    assert "dry run: deviations: 3 to insert, 0 to update, 0 unchanged; nothing written" in dry.stdout, dry.stderr
    assert count(with_sites, "SELECT COUNT(*) FROM deviations") == 0


@pytest.mark.requirement("URS-IMP-001")
def test_the_example_eqms_export_imports_with_the_shipped_profile(with_sites, tmp_path):
    dry = cli(with_sites, "import", "deviations", str(EXAMPLE), "--profile", "generic_eqms_deviations", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: deviations: 3 to insert, 0 to update, 0 unchanged; nothing written" in dry.stdout
    assert count(with_sites, "SELECT COUNT(*) FROM deviations") == 0
    done = cli(with_sites, "import", "deviations", str(EXAMPLE), "--profile", "generic_eqms_deviations")
    assert done.returncode == 0, done.stderr
    got = rows(with_sites, "SELECT * FROM deviations ORDER BY deviation_id").set_index("deviation_id")
    # Codes mapped from words; times read as US dates in each site's own zone, stored in UTC.
    assert list(got["severity"]) == ["minor", "major", "critical"]
    assert list(got["category"]) == ["people", "machine", "environment"]
    assert list(got["source"]) == ["review", "operator", "operator"]
    assert pd.Timestamp(got.at["EQMS-2026-0101", "occurred_at"]) == pd.Timestamp("2026-05-20 13:15")  # 08:15 CDT
    assert pd.Timestamp(got.at["EQMS-2026-0102", "detected_at"]) == pd.Timestamp("2026-05-22 14:30")  # 10:30 EDT
    assert pd.Timestamp(got.at["EQMS-2026-0103", "occurred_at"]) == pd.Timestamp("2026-05-26 05:50")  # 22:50 PDT
    assert pd.isna(got.at["EQMS-2026-0102", "closed_at"])
    # The export's other columns (a person's name) are not imported; the audit entry names the profile.
    assert "J. Doe" not in got.to_string()
    assert count(with_sites, "SELECT COUNT(*) FROM audit_log WHERE action = 'import' AND "
                             "POSITION('profile generic_eqms_deviations' IN new_value) > 0") == 1
    # The same export again changes nothing (its local times map to the stored UTC ones); the next month's
    # export, which closes EQMS-2026-0102, updates that record alone and the dry run says so first.
    again = cli(with_sites, "import", "deviations", str(EXAMPLE), "--profile", "generic_eqms_deviations", "--dry-run")
    assert "dry run: deviations: 0 to insert, 0 to update, 3 unchanged" in again.stdout, (again.stdout, again.stderr)
    later = tmp_path / "eqms_deviations_june.csv"
    export = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    export.loc[1, "Date Closed"] = "06/02/2026 11:00"
    export.to_csv(later, index=False)
    dry = cli(with_sites, "import", "deviations", str(later), "--profile", "generic_eqms_deviations", "--dry-run")
    assert "dry run: deviations: 0 to insert, 1 to update, 2 unchanged" in dry.stdout, (dry.stdout, dry.stderr)
    assert "  row 2, EQMS-2026-0102, closed_at: None -> '2026-06-02 15:00:00'" in dry.stdout, dry.stdout  # 11:00 EDT
    done = cli(with_sites, "import", "deviations", str(later), "--profile", "generic_eqms_deviations",
               "--reason", "June eQMS export")
    assert "deviations: 0 inserted, 1 updated, 2 unchanged" in done.stdout, (done.stdout, done.stderr)
    got = rows(with_sites, "SELECT deviation_id, closed_at FROM deviations ORDER BY deviation_id")
    assert pd.Timestamp(got.closed_at[1]) == pd.Timestamp("2026-06-02 15:00")


@pytest.mark.requirement("URS-IMP-003")
def test_rows_the_profile_cannot_map_are_named_and_nothing_is_written(with_sites, tmp_path):
    frame = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    frame.loc[1, "Classification"] = "Severe"
    frame.loc[2, "Date Discovered"] = "2026-05-26 07:10"
    frame.loc[0, "Site"] = "ZZZ"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    done = cli(with_sites, "import", "deviations", str(bad), "--profile", "generic_eqms_deviations")
    assert done.returncode == 2
    assert "bad.csv row 2, column 'Classification': 'Severe' is not in the profile's codes for severity" in done.stderr
    assert "bad.csv row 3, column 'Date Discovered': '2026-05-26 07:10' is not a time in the format" in done.stderr
    assert "bad.csv row 1, column 'Date Occurred': no time zone: site 'ZZZ' is not a site of the hub" in done.stderr
    assert count(with_sites, "SELECT COUNT(*) FROM deviations") == 0
    missing = tmp_path / "missing.csv"
    frame.drop(columns=["Record ID"]).to_csv(missing, index=False)
    done = cli(with_sites, "import", "deviations", str(missing), "--profile", "generic_eqms_deviations")
    assert done.returncode == 2 and "needs column(s) 'Record ID'" in done.stderr


@pytest.mark.requirement("URS-IMP-001")
def test_a_wrong_profile_is_refused_with_its_file_and_key(with_sites, tmp_path):
    wrong_target = tmp_path / "capas.toml"
    wrong_target.write_text('[profile]\nname = "x"\ntarget = "capas"\n[columns]\ncapa_id = "ID"\n')
    done = cli(with_sites, "import", "deviations", str(EXAMPLE), "--profile", str(wrong_target))
    assert done.returncode == 2 and "the profile capas.toml fills capas, not deviations" in done.stderr
    unknown_field = tmp_path / "field.toml"
    unknown_field.write_text('[profile]\nname = "x"\ntarget = "deviations"\n[columns]\nseverity_level = "A"\n')
    done = cli(with_sites, "import", "deviations", str(EXAMPLE), "--profile", str(unknown_field))
    assert done.returncode == 2 and "field.toml: deviations has no field(s) severity_level" in done.stderr
    for text, message in (("[profile]\nname = 'x'\n", "[profile] needs target"),
                          ("[profile]\nname='x'\ntarget='deviations'\n[columns]\na='b'\n[times]\ntimezone='Mars/Base'\n",
                           "is not \"site\" or an IANA zone"),
                          ("[profile]\nname='x'\ntarget='deviations'\n[colums]\n", "unknown section(s) colums"),
                          ("not toml at all [", "not a valid TOML file")):
        path = tmp_path / "p.toml"
        path.write_text(text)
        with pytest.raises(profiles.ProfileError, match=re.escape(message)):
            profiles.load_profile(str(path))


@pytest.mark.requirement("URS-IMP-001")
def test_every_shipped_profile_loads_against_its_table():
    from dashboard.cli import importable_tables

    tables = importable_tables()
    shipped = profiles.shipped_profiles()
    assert "generic_eqms_deviations" in shipped
    help_text = " ".join(cli("duckdb:///unused.duckdb", "import", "--help").stdout.split())
    for name in shipped:
        assert name in help_text  # `import --help` names every shipped profile
        profile = profiles.load_profile(name)
        if profile.target == em_history.TABLE:  # EM history: its own fields (queries/imports/em_history.py)
            profiles.load_profile(name, list(em_history.FIELDS))
            continue
        assert profile.target in tables
        profiles.load_profile(name, [column for column, _, _ in tables[profile.target]])


def test_the_example_capa_export_follows_its_deviations(with_sites):
    """The eQMS CAPA export, with its deviations imported first: dates in each site's zone, the
    effectiveness check's words as the hub's boolean, an open CAPA left open and unchecked."""
    first = cli(with_sites, "import", "deviations", str(EXAMPLE), "--profile", "generic_eqms_deviations")
    assert first.returncode == 0, first.stderr
    capas = ROOT / "sample_data" / "examples" / "eqms_capas.csv"
    done = cli(with_sites, "import", "capas", str(capas), "--profile", "generic_eqms_capas")
    assert done.returncode == 0, done.stderr
    got = rows(with_sites, "SELECT * FROM capas ORDER BY capa_id").set_index("capa_id")
    assert bool(got.at["EQMS-CAPA-0302", "effective"]) is True
    assert pd.Timestamp(got.at["EQMS-CAPA-0302", "closed_at"]) == pd.Timestamp("2026-05-30 19:30")  # 15:30 EDT
    assert pd.isna(got.at["EQMS-CAPA-0301", "closed_at"]) and pd.isna(got.at["EQMS-CAPA-0301", "effective"])
    assert pd.Timestamp(got.at["EQMS-CAPA-0301", "due_at"]) == pd.Timestamp("2026-07-28 22:00")  # 17:00 CDT
    assert got.at["EQMS-CAPA-0301", "deviation_id"] == "EQMS-2026-0101"


def test_the_data_model_document_is_the_schema():
    """docs/data-model.md is what `atmp-hub data-model` prints from the schema (regenerate it with
    `atmp-hub data-model > docs/data-model.md` after a schema change)."""
    printed = cli("duckdb:///unused.duckdb", "data-model")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert "| `severity` | varchar | yes | minor, major, critical |" in printed.stdout
    assert "| `human_factors` | varchar |  | cognitive_load, communication, environment, none |" in printed.stdout


@pytest.mark.requirement("URS-IMP-004")
def test_the_dry_run_warns_of_what_a_person_should_look_at(with_sites, tmp_path):
    """Warnings never refuse a file (the hub cannot know every site's new code), but the dry run names
    them: a site the hub does not have, a time in the future, a root-cause code no deviation uses yet."""
    done = cli(with_sites, "import", "deviations", str(EXAMPLE), "--profile", "generic_eqms_deviations")
    assert done.returncode == 0, done.stderr
    path = tmp_path / "deviations.csv"
    pd.DataFrame({"deviation_id": ["D-1", "D-2", "D-3"], "site_id": ["CHI", "XYZ", "CHI"],
                  "occurred_at": ["2026-05-01T08:00:00", "2026-05-02T08:00:00", "2999-01-01T08:00:00"],
                  "detected_at": ["2026-05-01T09:00:00", "2026-05-02T09:00:00", "2999-01-01T09:00:00"],
                  "severity": ["minor"] * 3, "category": ["method"] * 3,
                  "root_cause_code": ["DOC-ENTRY", "DOC-ENTRY", "DOC-ENTRYY"], "source": ["review"] * 3}).to_csv(
        path, index=False)
    dry = cli(with_sites, "import", "deviations", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "deviations.csv: warning: field 'site_id': 'XYZ' is not a site of the hub (row 2)" in dry.stderr
    assert ("deviations.csv: warning: field 'root_cause_code': 'DOC-ENTRYY' is a root-cause code no deviation "
            "of the hub uses yet (row 3)") in dry.stderr
    assert "field 'occurred_at': '2999-01-01T08:00:00' is in the future (row 3)" in dry.stderr
    assert "DOC-ENTRY' is" not in dry.stderr.replace("DOC-ENTRYY", "")  # a known code is no warning
    assert count(with_sites, "SELECT COUNT(*) FROM deviations") == 3  # the dry run wrote nothing
