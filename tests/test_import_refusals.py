"""Refusals name file, row and field (issue 27 point 3): a key repeated in the file, an empty cell in a required column, a file that is not UTF-8. Through `atmp-hub import` as
its own process on a warehouse an earlier process made, on DuckDB and PostgreSQL: the exit code is not 0,
no traceback is printed and the table keeps its rows. A key already in the warehouse is a re-import:
the record is updated where the file differs. An empty cell in a NOT NULL column with a default
(or an XLSX formula with no saved value) takes the default instead of reaching the database as NULL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import test_cli_import
from sqlalchemy import text

from queries.imports.importer import DATABASE_DEFAULT, table_columns, table_keys, validate, write_rows

made_earlier = test_cli_import.made_earlier  # fixture: a warehouse URL whose schema an earlier process made
cli, count = test_cli_import.cli, test_cli_import.count
REPORTED = "2026-01-01T08:00:00"


def near_misses(path: Path, ids: list[str], **columns) -> Path:
    pd.DataFrame({"near_miss_id": ids, "site_id": "CHI", "reported_at": REPORTED, "category": "labelling",
                  **columns}).to_csv(path, index=False)
    return path


def refused(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert "import refused, nothing written:\n" in done.stderr, done.stderr
    return done.stderr


@pytest.mark.requirement("URS-IMP-002", "URS-IMP-003")
def test_a_key_repeated_in_the_file_is_refused_by_row_field_and_value(made_earlier, tmp_path):
    data = near_misses(tmp_path / "near_misses.csv", ["NM-1", "NM-2", "NM-1", "NM-3", "NM-2"])
    message = refused(cli(made_earlier, "import", "near_misses", str(data)))
    assert "near_misses.csv row 3, field 'near_miss_id': 'NM-1' repeats row 1 of the file " \
           "(near_miss_id must be unique)" in message, message
    assert "near_misses.csv row 5, field 'near_miss_id': 'NM-2' repeats row 2 of the file" in message, message
    assert "row 4" not in message and "duplicate key" not in message.lower()  # not the database's words
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses") == 0


@pytest.mark.requirement("URS-IMP-002")
def test_a_composite_key_repeated_in_the_file_names_every_key_field(made_earlier, tmp_path):
    """The key comes from the warehouse's catalogue: (site_id, sop_id, month) for sop_executions; the
    same month written two ways is the same key."""
    data = tmp_path / "sop_executions.csv"
    pd.DataFrame({"site_id": ["CHI", "CHI", "ATL", "CHI"], "sop_id": ["SOP-7"] * 4,
                  "month": ["2026-01-01", "2026-02-01", "2026-01-01", " 2026-01-01 "],
                  "executions": [10, 12, 9, 11]}).to_csv(data, index=False)
    message = refused(cli(made_earlier, "import", "sop_executions", str(data)))
    assert "sop_executions.csv row 4, fields 'site_id', 'sop_id', 'month': ('CHI', 'SOP-7', '2026-01-01') " \
           "repeats row 1 of the file (site_id, sop_id and month must be unique together)" in message, message
    assert message.count(" repeats ") == 1
    assert count(made_earlier, "SELECT COUNT(*) FROM sop_executions") == 0


@pytest.mark.requirement("URS-IMP-004", "URS-IMP-006", "URS-IMP-010")
def test_a_reimport_updates_what_changed_lists_it_first_and_then_changes_nothing(made_earlier, tmp_path):
    """A row is matched to its stored record by the key: new keys are inserted, a changed field updates
    its record (listed by the dry run, row by row), an identical row is left alone; the same file twice
    changes nothing the second time."""
    first = near_misses(tmp_path / "first.csv", ["NM-1", "NM-2"])
    assert cli(made_earlier, "import", "near_misses", str(first)).returncode == 0
    again = near_misses(tmp_path / "near_misses.csv", ["NM-3", "NM-2", "NM-4", "NM-1"],
                        category=["labelling", "gowning", "labelling", "labelling"])
    dry = cli(made_earlier, "import", "near_misses", str(again), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: near_misses: 2 to insert, 1 to update, 1 unchanged; nothing written" in dry.stdout, dry.stdout
    assert "  row 2, NM-2, category: 'labelling' -> 'gowning'" in dry.stdout, dry.stdout
    assert dry.stdout.count(" -> ") == 1
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses") == 2
    unexplained = cli(made_earlier, "import", "near_misses", str(again))  # a changed record needs a reason
    assert unexplained.returncode == 2, unexplained.stdout
    assert ("near_misses.csv: the file changes 1 stored record(s) of near_misses; give the reason for the change"
            in unexplained.stderr), unexplained.stderr
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses") == 2
    done = cli(made_earlier, "import", "near_misses", str(again), "--reason", "reclassified after review")
    assert "near_misses: 2 inserted, 1 updated, 1 unchanged" in done.stdout, (done.stdout, done.stderr)
    assert count(made_earlier, "SELECT COUNT(*) FROM audit_log WHERE action = 'import_update' AND object_id = 'NM-2' "
                               "AND reason = 'reclassified after review' AND old_value = '{\"category\": \"labelling\"}' "
                               "AND new_value = '{\"category\": \"gowning\"}'") == 1
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses") == 4
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses WHERE near_miss_id = 'NM-2' AND category = 'gowning'") == 1
    twice = cli(made_earlier, "import", "near_misses", str(again))
    assert "near_misses: 0 inserted, 0 updated, 4 unchanged" in twice.stdout, (twice.stdout, twice.stderr)
    assert count(made_earlier, "SELECT COUNT(*) FROM audit_log WHERE action = 'import' AND "
                               "POSITION('0 inserted, 0 updated, 4 unchanged; sha256 ' IN new_value) > 0") == 1


@pytest.mark.requirement("URS-IMP-004")
def test_a_composite_key_matches_its_stored_record(made_earlier, tmp_path):
    """A date in the key compares as a date on both engines (the lookup binds typed values)."""
    def sop_file(name: str, months: list[str], executions: list[int]) -> Path:
        path = tmp_path / name
        pd.DataFrame({"site_id": "CHI", "sop_id": "SOP-7", "month": months,
                      "executions": executions}).to_csv(path, index=False)
        return path

    assert cli(made_earlier, "import", "sop_executions", str(sop_file("first.csv", ["2026-01-01"], [4]))).returncode == 0
    dry = cli(made_earlier, "import", "sop_executions",
              str(sop_file("sop_executions.csv", ["2026-02-01", "2026-01-01"], [3, 5])), "--dry-run")
    assert "dry run: sop_executions: 1 to insert, 1 to update, 0 unchanged" in dry.stdout, (dry.stdout, dry.stderr)
    assert "  row 2, ('CHI', 'SOP-7', '2026-01-01'), executions: 4 -> 5" in dry.stdout, dry.stdout
    assert count(made_earlier, "SELECT executions FROM sop_executions") == 4


def test_an_empty_cell_with_a_default_takes_the_default(made_earlier, tmp_path):
    """near_misses.description is NOT NULL DEFAULT '': an empty cell is '' (it used to reach the
    database as NULL and come back as its constraint message, with no row or field)."""
    data = near_misses(tmp_path / "near_misses.csv", ["NM-1", "NM-2"], description=["", "gown torn"])
    done = cli(made_earlier, "import", "near_misses", str(data))
    assert done.returncode == 0, done.stderr
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses WHERE near_miss_id = 'NM-1' "
                               "AND description = ''") == 1
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses WHERE description = 'gown torn'") == 1


def test_an_empty_key_cell_takes_its_default_before_the_keys_are_compared(made_earlier, tmp_path):
    """limits.room_id is part of the key and defaults to '*': an empty room_id is '*', so it repeats a
    row that says '*'."""
    data = tmp_path / "limits.csv"
    pd.DataFrame({"parameter": ["temperature", "humidity", "temperature"], "grade": "A",
                  "room_id": ["", "", "*"], "alert_delay_s": ["", "30", ""],
                  "basis": "Annex 1"}).to_csv(data, index=False)
    message = refused(cli(made_earlier, "import", "limits", str(data)))
    assert "limits.csv row 3, fields 'parameter', 'grade', 'room_id': ('temperature', 'A', '*') repeats row 1 " \
           "of the file" in message, message
    assert count(made_earlier, "SELECT COUNT(*) FROM limits") == 0
    data.write_text(data.read_text().replace("temperature,A,*,", "diff_pressure,A,*,"))
    done = cli(made_earlier, "import", "limits", str(data))
    assert done.returncode == 0, done.stderr
    assert count(made_earlier, "SELECT COUNT(*) FROM limits WHERE room_id = '*'") == 3
    assert count(made_earlier, "SELECT SUM(alert_delay_s) FROM limits") == 30  # empty: the default 0


def formula_workbook(path: Path, rows: list[list]) -> Path:
    """An XLSX file as openpyxl writes it: a formula cell has no saved (cached) value, so a reader that
    takes values, as pandas does, finds it empty."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["near_miss_id", "site_id", "reported_at", "category", "description"])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.mark.requirement("URS-IMP-001")
def test_an_xlsx_formula_with_no_saved_value_takes_the_default(made_earlier, tmp_path):
    data = formula_workbook(tmp_path / "near_misses.xlsx", [["NM-1", "CHI", REPORTED, "labelling", '=UPPER("x")'],
                                                            ["NM-2", "CHI", REPORTED, "gowning", "kept"]])
    done = cli(made_earlier, "import", "near_misses", str(data))
    assert done.returncode == 0, done.stderr
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses WHERE near_miss_id = 'NM-1' "
                               "AND description = ''") == 1


@pytest.mark.requirement("URS-IMP-002")
def test_an_empty_required_cell_without_a_default_is_refused_by_row_and_field(made_earlier, tmp_path):
    csv_file = near_misses(tmp_path / "near_misses.csv", ["NM-1", "NM-2"], category=["labelling", ""])
    message = refused(cli(made_earlier, "import", "near_misses", str(csv_file)))
    assert "near_misses.csv row 2, field 'category': is empty but required" in message, message
    xlsx_file = formula_workbook(tmp_path / "near_misses.xlsx", [["NM-1", "CHI", REPORTED, '=B2&"x"', "d"]])
    message = refused(cli(made_earlier, "import", "near_misses", str(xlsx_file)))
    assert "near_misses.xlsx row 1, field 'category': is empty but required" in message, message
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses") == 0


@pytest.mark.requirement("URS-IMP-002", "URS-IMP-003")
def test_a_file_that_is_not_utf8_is_refused_by_row_field_line_and_byte(made_earlier, tmp_path):
    """Windows-1252 text (Excel's plain 'CSV'): the message names the data row as the importer counts
    them (a blank line is skipped; a quoted cell may span lines), the field, the line and the byte."""
    first = near_misses(tmp_path / "first.csv", ["NM-0"])
    assert cli(made_earlier, "import", "near_misses", str(first)).returncode == 0
    content = ("near_miss_id,site_id,reported_at,category,description\n"
               f"NM-1,CHI,{REPORTED},labelling,\"two\nlines\"\n"
               "\n"
               f"NM-2,CHI,{REPORTED},gowning,Caf\u00e9 spill\n")
    data = tmp_path / "near_misses.csv"
    data.write_bytes(content.encode("cp1252"))
    offset = content.encode("cp1252").index(b"\xe9")
    message = refused(cli(made_earlier, "import", "near_misses", str(data)))
    assert f"near_misses.csv row 2, field 'description' (line 5): byte 0xE9 at byte offset {offset} is not " \
           "UTF-8" in message, message
    assert "save it as UTF-8" in message
    assert count(made_earlier, "SELECT COUNT(*) FROM near_misses") == 1


def test_a_default_the_database_computes_is_left_to_the_database(warehouse):
    """A default that is an expression (not a constant) is not guessed: the rows with that cell empty are
    written without the column, so the database fills it. (No importable table has one today.)"""
    with warehouse.transaction() as conn:
        conn.execute(text("CREATE TABLE import_probe (probe_id TEXT PRIMARY KEY, "
                          "made_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, n INTEGER NOT NULL DEFAULT 7)"))
    warehouse._bulk_columns = None  # the whitelist is read from the schema again, with the new table
    raw = pd.DataFrame({"probe_id": ["P-1", "P-2", "P-3"], "made_at": [None, "2026-01-01T00:00:00", None],
                        "n": ["", "", "3"]})
    frame = validate(raw, table_columns(warehouse, "import_probe"), "probe.csv",
                     keys=table_keys(warehouse, "import_probe"))
    assert frame["made_at"].tolist()[0] is DATABASE_DEFAULT and frame["n"].tolist() == [7, 7, 3]
    with warehouse.transaction() as conn:
        write_rows(warehouse, conn, "import_probe", frame)
    stored = warehouse.query("probe", sql="SELECT probe_id, made_at, n FROM import_probe ORDER BY probe_id")
    assert stored["probe_id"].tolist() == ["P-1", "P-2", "P-3"] and stored["n"].tolist() == [7, 7, 3]
    assert stored["made_at"].notna().all() and str(stored["made_at"][1]).startswith("2026-01-01")
