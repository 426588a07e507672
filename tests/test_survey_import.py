"""Survey import: CSV and XLSX, every error names row and field, identifying files are refused, and a
refused or failed import leaves every table (and the audit trail) as it was."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from dashboard import cli
from queries.engine.warehouse import Warehouse
from queries.imports.importer import ImportError_
from queries.imports.survey_import import import_survey
from queries.records import audit

HEADER = ["response_id", "site", "team", "wave", "submitted_at", "q1", "q2", "q3", "q4", "q5", "q6", "q7"]
GOOD = [
    ["R-1", "A", "Manufacturing", "2026-Q2", "2026-05-10T09:00:00", 2, 6, 1, 6, 2, 7, 6],
    ["R-2", "A", "Manufacturing", "2026-Q2", "2026-05-10T10:00:00+02:00", 1, 7, 2, 5, 1, 6, 7],
    ["R-3", "A", "Quality Control", "2026-Q2", "", 4, 4, 4, 4, 4, 4, 4],
]


@pytest.fixture
def survey_wh(warehouse: Warehouse) -> Warehouse:
    with warehouse.transaction() as conn:
        warehouse.bulk_insert(conn, "sites", pd.DataFrame([
            {"site_id": s, "name": s, "region": "EU", "timezone": "UTC", "kind": "node",
             "onboarded_at": datetime(2024, 1, 1)} for s in ("A", "B")]))
    return warehouse


def write(tmp_path: Path, rows, header=HEADER, suffix=".csv") -> Path:
    path = tmp_path / f"survey{suffix}"
    frame = pd.DataFrame(rows, columns=header)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_excel(path, index=False)
    return path


def snapshot(wh: Warehouse) -> tuple:
    """(responses, their ids, audit entries): what a refused import must leave unchanged."""
    responses = wh.query("test", sql="SELECT response_id FROM survey_responses ORDER BY response_id")
    return len(responses), tuple(responses["response_id"]), len(wh.query("sql/audit_all"))


@pytest.mark.requirement("URS-PPL-001")
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_csv_and_xlsx_import_and_are_audited(survey_wh, tmp_path, suffix):
    count = import_survey(survey_wh, write(tmp_path, GOOD, suffix=suffix), user_id="t.leader")
    assert count == 3
    stored = survey_wh.query("x", sql="SELECT * FROM survey_responses ORDER BY response_id")
    assert list(stored["response_id"]) == ["R-1", "R-2", "R-3"]
    assert list(stored["q1"]) == [2, 1, 4] and list(stored["q7"]) == [6, 7, 4]  # stored as answered
    assert pd.Timestamp(stored.loc[1, "submitted_at"]) == pd.Timestamp("2026-05-10T08:00:00")  # to UTC
    assert set(stored.columns) >= {"site_id", "team", "wave"} and "name" not in stored.columns
    entries = survey_wh.query("sql/audit_all")
    last = entries.iloc[-1]
    assert (last["action"], last["user_id"], last["object_id"]) == ("import_survey", "t.leader", f"survey{suffix}")
    assert "3 responses" in last["new_value"] and "sha256" in last["new_value"]
    assert audit.verify(survey_wh).ok


@pytest.mark.requirement("URS-PPL-001")
def test_errors_name_row_and_field(survey_wh, tmp_path):
    rows = [
        ["R-1", "A", "Manufacturing", "2026-Q2", "", 8, 6, 1, 6, 2, 7, 6],  # q1 out of range
        ["R-2", "A", "", "2026-Q2", "", 1, 7, 2, 5.5, 1, 6, 7],  # no team; q4 not whole
        ["R-3", "ZZZ", "QC", "spring", "not a date", 4, 4, 4, 4, 4, 4, None],  # site, wave, time, q7
        ["R-1", "A", "QC", "2026-Q2", "", 4, 4, 4, 4, 4, 4, 4],  # duplicate id
    ]
    with pytest.raises(ImportError_) as refused:
        import_survey(survey_wh, write(tmp_path, rows))
    problems = refused.value.problems
    assert "survey.csv row 1, field 'q1': '8' is not a whole number from 1 to 7" in problems
    assert "survey.csv row 2, field 'team': is empty but required" in problems
    assert "survey.csv row 2, field 'q4': '5.5' is not a whole number from 1 to 7" in problems
    assert "survey.csv row 3, field 'site_id': 'ZZZ' is not a site of the network" in problems
    assert "survey.csv row 3, field 'wave': 'spring' is not a wave of the form YYYY-Qn (e.g. 2026-Q2)" in problems
    assert any(p.startswith("survey.csv row 3, field 'submitted_at': 'not a date' is not") for p in problems)
    assert "survey.csv row 3, field 'q7': is empty but required (an answer from 1 to 7)" in problems
    assert "survey.csv row 4, field 'response_id': 'R-1' appears earlier in the file" in problems
    assert len(problems) == 8
    assert snapshot(survey_wh) == (0, (), 0)


@pytest.mark.requirement("URS-PPL-002")
@pytest.mark.parametrize("column", ["Name", "E-mail address", "Employee ID", "email", "Staff number",
                                    "user_id", "Respondent"])
def test_identifying_column_refuses_the_whole_file(survey_wh, tmp_path, column):
    rows = [[*r, "x"] for r in GOOD]
    with pytest.raises(ImportError_, match=f"column '{column}' could identify a person"):
        import_survey(survey_wh, write(tmp_path, rows, header=[*HEADER, column]))
    assert snapshot(survey_wh) == (0, (), 0)


@pytest.mark.requirement("URS-PPL-002")
def test_an_email_in_any_cell_refuses_the_whole_file(survey_wh, tmp_path):
    rows = [list(r) for r in GOOD]
    rows[2][2] = "jane.doe@example.com"
    with pytest.raises(ImportError_) as refused:
        import_survey(survey_wh, write(tmp_path, rows, suffix=".xlsx"))
    assert refused.value.problems == [
        "survey.xlsx row 3, field 'team': holds an e-mail address; survey files must be anonymous, so the "
        "whole file is refused"]
    assert snapshot(survey_wh) == (0, (), 0)


@pytest.mark.requirement("URS-PPL-001")
def test_unknown_and_missing_columns(survey_wh, tmp_path):
    header = [h for h in HEADER if h != "q7"] + ["comment"]
    with pytest.raises(ImportError_) as refused:
        import_survey(survey_wh, write(tmp_path, [r[:-1] + ["ok"] for r in GOOD], header=header))
    assert refused.value.problems[0].startswith("survey.csv: unknown column 'comment'")
    assert refused.value.problems[1] == "survey.csv: missing required column(s) q7"


@pytest.mark.requirement("URS-PPL-001")
def test_failed_write_leaves_tables_and_audit_unchanged(survey_wh, tmp_path):
    import_survey(survey_wh, write(tmp_path, GOOD[:1]))
    before = snapshot(survey_wh)
    assert before[:2] == (1, ("R-1",))
    # Valid file, but R-1 is already in the warehouse: the database refuses, after were sent.
    rows = [["R-4", *GOOD[0][1:]], ["R-5", *GOOD[1][1:]], GOOD[0]]
    with pytest.raises(ImportError_) as refused:
        import_survey(survey_wh, write(tmp_path, rows))
    assert refused.value.problems == [
        "survey.csv row 3, field 'response_id': 'R-1' is already in the warehouse (response_id must be unique)"]
    assert snapshot(survey_wh) == before  # no R-4, no R-5, no audit entry
    assert audit.verify(survey_wh).ok


@pytest.mark.requirement("URS-PPL-001")
def test_cli_import_survey(survey_wh, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ATMP_DATABASE_URL", survey_wh.url)
    bad = write(tmp_path, [[*GOOD[0][:5], 0, *GOOD[0][6:]]])
    assert cli.main(["import-survey", str(bad)]) == 2
    assert "survey.csv row 1, field 'q1': '0' is not a whole number from 1 to 7" in capsys.readouterr().err
    good = write(tmp_path, GOOD, suffix=".xlsx")
    assert cli.main(["import-survey", str(good), "--user", "t.auditor"]) == 0
    assert "imported 3 survey responses" in capsys.readouterr().out
    assert snapshot(survey_wh)[:2] == (3, ("R-1", "R-2", "R-3"))
