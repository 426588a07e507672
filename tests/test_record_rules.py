"""Rules beyond a cell's type (queries/imports/record_rules.py): a code outside the table's list, a value out
of range, a record's times out of order, a released batch without its release time. Through `atmp-hub
import` as its own process on a warehouse an earlier process made, on DuckDB and PostgreSQL: refused with
file, row and field for every broken rule at once, nothing written. The code lists equal the schema's
CHECK constraints, and the sample network meets every rule (the rules refuse no real record)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import test_cli_import
import test_import_refusals

from queries.imports import data_model, record_rules
from queries.imports.importer import IMPORTABLE

made_earlier = test_cli_import.made_earlier  # fixture: a warehouse URL whose schema an earlier process made
cli, count = test_cli_import.cli, test_cli_import.count
refused = test_import_refusals.refused


def problem_lines(message: str) -> list[str]:
    return [line for line in message.splitlines() if line.startswith("deviations.csv row ")]


def deviation(number: int, **fields) -> dict:
    return {"deviation_id": f"DEV-T-{number}", "site_id": "CHI", "occurred_at": "2026-01-02T08:00:00",
            "detected_at": "2026-01-02T09:00:00", "severity": "minor", "category": "people",
            "root_cause_code": "DOC-ENTRY", "source": "operator", **fields}


@pytest.mark.requirement("URS-IMP-002", "URS-IMP-003")
def test_every_broken_rule_of_every_row_is_named_and_nothing_is_written(made_earlier, tmp_path):
    data = tmp_path / "deviations.csv"
    pd.DataFrame([
        deviation(1),
        deviation(2, severity="severe"),
        deviation(3, detected_at="2026-01-01T09:00:00"),
        deviation(4, closed_at="2026-01-02T08:30:00", category="Personnel"),
    ]).to_csv(data, index=False)
    message = refused(cli(made_earlier, "import", "deviations", str(data)))
    assert "deviations.csv row 2, field 'severity': 'severe' is not one of minor, major, critical" in message, message
    assert ("deviations.csv row 3, field 'detected_at': '2026-01-01T09:00:00' is before occurred_at "
            "('2026-01-02T08:00:00'); a deviation is detected when or after it occurs") in message, message
    assert "deviations.csv row 4, field 'category': 'Personnel' is not one of people, method" in message, message
    assert ("deviations.csv row 4, field 'closed_at': '2026-01-02T08:30:00' is before detected_at "
            "('2026-01-02T09:00:00'); a deviation is closed after it is detected") in message, message
    assert "row 1," not in message
    assert "warehouse refused" not in message  # named by the rules, not the database's one line
    assert count(made_earlier, "SELECT COUNT(*) FROM deviations") == 0
    dry = cli(made_earlier, "import", "deviations", str(data), "--dry-run")
    assert problem_lines(refused(dry)) == problem_lines(message)


@pytest.mark.requirement("URS-IMP-002")
def test_ranges_and_a_release_without_its_time_are_refused(made_earlier, tmp_path):
    data = tmp_path / "batches.csv"
    batch = {"site_id": "CHI", "room_id": "CHI-B1", "product": "CAR-T-19", "process_version": "v1",
             "started_at": "2026-01-05T08:00:00", "status": "in_process"}
    pd.DataFrame([
        {**batch, "batch_id": "B-1", "viability_pct": 101.5},
        {**batch, "batch_id": "B-2", "status": "released", "completed_at": "2026-01-06T08:00:00"},
        {**batch, "batch_id": "B-3", "completed_at": "2026-01-04T08:00:00", "viability_pct": 88},
    ]).to_csv(data, index=False)
    message = refused(cli(made_earlier, "import", "batches", str(data)))
    assert "batches.csv row 1, field 'viability_pct': 101.5 is outside the allowed range (from 0 to 100)" in message
    assert ("batches.csv row 2, field 'released_at': is empty, but status is 'released'; fill in released_at"
            in message), message
    assert ("batches.csv row 3, field 'completed_at': '2026-01-04T08:00:00' is before started_at "
            "('2026-01-05T08:00:00'); a batch completes after it starts") in message, message
    assert message.count("batches.csv row") == 3
    assert count(made_earlier, "SELECT COUNT(*) FROM batches") == 0


@pytest.mark.requirement("URS-IMP-002")
def test_a_site_with_a_time_zone_that_does_not_exist_is_refused(made_earlier, tmp_path):
    data = tmp_path / "sites.csv"
    pd.DataFrame([{"site_id": "MAR", "name": "Mars base", "region": "Far", "timezone": "Mars/Olympus",
                   "kind": "node", "onboarded_at": "2026-01-01"}]).to_csv(data, index=False)
    message = refused(cli(made_earlier, "import", "sites", str(data)))
    assert "sites.csv row 1, field 'timezone': 'Mars/Olympus' is not an IANA time zone" in message, message


def test_the_code_lists_are_the_schema_s_check_constraints():
    """Every `column IN (...)` CHECK of an importable table in queries/schema.sql (as the data model
    reads them) is a code list of the rules with the same values; the rules add lists only where the
    schema checks none: a limit's parameter and grade, an inspection's classification."""
    checked = {key: allowed for key, (allowed, _) in data_model.schema_notes().items()
               if allowed and key[0] in IMPORTABLE}
    declared = {(table, column): ", ".join(values) for table, rules in record_rules.RULES.items()
                for column, values in rules.codes.items()}
    assert ("deviations", "severity") in checked, "the data model no longer reads the CHECKs"
    for key, allowed in checked.items():
        assert declared.get(key) == allowed, key
    assert set(declared) - set(checked) == {("limits", "parameter"), ("limits", "grade"),
                                            ("inspections", "classification")}
    assert set(record_rules.RULES) <= IMPORTABLE


def test_the_sample_network_meets_every_rule(sample_network):
    with duckdb.connect(str(sample_network[0]), read_only=True) as conn:
        for table in record_rules.RULES:
            frame = conn.execute(f"SELECT * FROM {table}").df()  # noqa: S608 - the rules' own table names
            frame = frame.astype(object).where(frame.notna(), None)
            assert len(frame) > 0, table
            assert record_rules.problems(table, frame, f"{table}.csv") == [], table


@pytest.mark.parametrize("table", sorted(record_rules.RULES))
def test_each_table_s_rules_can_fail(table):
    """Negative control: every declared rule refuses a row made to break it (a rule that cannot fail
    would let the sample test above pass vacuously)."""
    rules = record_rules.RULES[table]
    cases: list[dict] = []
    for field in rules.codes:
        cases.append({field: "not-a-code"})
    for field, (low, high) in rules.ranges.items():
        cases.append({field: (low - 1) if low is not None else (high + 1)})
    for field in rules.timezones:
        cases.append({field: "Nowhere/Nothing"})
    for order in rules.orders:
        cases.append({order.earlier: 10, order.later: 5})
    for field, value, needed in rules.required_when:
        cases.append({field: True if value is None else value, needed: None})
    assert cases, table
    for case in cases:
        found = record_rules.problems(table, pd.DataFrame([case]), "x.csv")
        assert len(found) == 1 and found[0].startswith("x.csv row 1, field "), (table, case, found)


@pytest.mark.requirement("URS-IMP-002", "URS-IMP-004")
def test_a_record_file_read_in_chunks_is_checked_across_them_and_written_all_or_nothing(made_earlier, tmp_path,
                                                                                       monkeypatch):
    """The chunking itself, at 7 rows a chunk in this process (a real file takes 50,000 at a time): row
    numbers count from the file's start, a key repeated chunks apart is found, a bad chunk after good
    ones leaves nothing written, and a re-import lists each change under its own file row."""
    from queries.engine.warehouse import Warehouse
    from queries.imports import importer, plan

    monkeypatch.setattr(plan, "RECORD_CHUNK_ROWS", 7)
    rows = [deviation(n) for n in range(1, 31)]
    bad = [dict(r) for r in rows]
    bad[19]["severity"] = "severe"                      # file row 20, the third chunk
    bad[24]["deviation_id"] = bad[2]["deviation_id"]    # file row 25 repeats row 3, three chunks apart
    path = tmp_path / "deviations.csv"
    pd.DataFrame(bad).to_csv(path, index=False)
    wh = Warehouse(made_earlier)
    try:
        with pytest.raises(importer.ImportError_) as refused:
            plan.import_file(wh, "deviations", path, audit_as="t.leader")
        assert refused.value.problems == [
            "deviations.csv row 20, field 'severity': 'severe' is not one of minor, major, critical (map the "
            "export's words in the profile)",
            "deviations.csv row 25, field 'deviation_id': 'DEV-T-3' repeats row 3 of the file (deviation_id must "
            "be unique)"]
        assert count(made_earlier, "SELECT COUNT(*) FROM deviations") == 0

        pd.DataFrame(rows).to_csv(path, index=False)
        dry = plan.plan_import(wh, "deviations", path)
        assert dry.counts == {"insert": 30, "update": 0, "unchanged": 0}
        assert list(dry.frame["deviation_id"]) == [f"DEV-T-{n}" for n in range(1, 8)]  # the first chunk's rows
        assert plan.import_file(wh, "deviations", path, audit_as="t.leader").counts == dry.counts
        assert count(made_earlier, "SELECT COUNT(*) FROM deviations") == 30

        rows[26]["closed_at"] = "2026-01-09T10:00:00"   # file row 27, the fourth chunk
        pd.DataFrame(rows).to_csv(path, index=False)
        again = plan.import_file(wh, "deviations", path, audit_as="t.leader", reason="closed in the eQMS")
        assert again.counts == {"insert": 0, "update": 1, "unchanged": 29}
        assert [(c.row, c.record, c.field, c.stored, c.new) for c in again.changes] == [
            (27, "DEV-T-27", "closed_at", None, "2026-01-09 10:00:00")]
    finally:
        wh.dispose()
