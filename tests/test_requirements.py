"""The requirement files (docs/requirements/) and the traceability rules CI enforces
(validation/pytest_plugin.py): checked on the real files, and on small made-up ones run through pytest as a
subprocess, as `make test` runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_runner import atmp_hub

from validation import requirements as reqs

pytestmark = pytest.mark.requirement("URS-VAL-002")

ROOT = Path(__file__).resolve().parent.parent

CLAUSES = """
[[clause]]
id = "Annex 11 §9"
framework = "EU GMP Annex 11"
title = "Audit trails"
how_met = "The audit log."
user_must = "Review it."
"""


def requirement(rid="URS-AUD-001", risk="high", clauses='["Annex 11 §9"]', extra=""):
    return textwrap.dedent(f"""
        [[requirement]]
        id = "{rid}"
        text = "The hub shall keep an audit trail."
        risk = "{risk}"
        risk_reason = "Data integrity."
        clauses = {clauses}
        {extra}
        """)


def folder(tmp_path: Path, *entries: str, prefix: str = "AUD") -> Path:
    where = tmp_path / "requirements"
    where.mkdir()
    (where / "clauses.toml").write_text(CLAUSES, encoding="utf-8")
    (where / "audit.toml").write_text(f'area = "Audit"\nprefix = "{prefix}"\n' + "".join(entries), encoding="utf-8")
    return where


def test_the_shipped_requirements_load_and_every_area_has_high_risk_ones():
    catalogue = reqs.load()
    assert catalogue.requirements, "docs/requirements/ holds requirements"
    assert catalogue.by_risk()["high"] > 0
    for r in catalogue.requirements.values():
        assert set(r.clauses) <= set(catalogue.clauses)
        assert r.verification == "test" or r.procedure


@pytest.mark.parametrize(("entry", "says"), [
    (requirement(risk="severe"), "URS-AUD-001: field 'risk' is 'severe'"),
    (requirement(clauses='["Annex 11 §99"]'), "URS-AUD-001: field 'clauses' names ['Annex 11 §99']"),
    (requirement(rid="URS-MON-001"), "URS-MON-001: field 'id' must look like URS-AUD-001"),
    (requirement(extra='verification = "procedure"'), "URS-AUD-001: field 'procedure' must be a non-empty text"),
    (requirement(extra='owner = "QA"'), "URS-AUD-001: unknown field(s) ['owner']"),
    (requirement() + requirement(), "audit.toml, URS-AUD-001: also in audit.toml"),
])
def test_a_bad_entry_is_refused_with_file_entry_and_field(tmp_path, entry, says):
    with pytest.raises(reqs.RequirementsError) as refused:
        reqs.load(folder(tmp_path, entry))
    assert says in str(refused.value)
    assert str(refused.value).startswith("audit.toml")


def run_pytest(tmp_path: Path, where: Path, tests: str, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    (tmp_path / "test_made_up.py").write_text(textwrap.dedent(tests), encoding="utf-8")
    trace = tmp_path / "trace.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "validation.pytest_plugin",
         f"--requirements-dir={where}", f"--requirements-trace={trace}", "--rootdir", str(tmp_path),
         "-c", "/dev/null", str(tmp_path / "test_made_up.py"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    return done, trace


def test_a_marker_naming_an_unknown_id_stops_the_run(tmp_path):
    done, _ = run_pytest(tmp_path, folder(tmp_path, requirement()), """
        import pytest
        @pytest.mark.requirement("URS-AUD-001")
        def test_known(): pass
        @pytest.mark.requirement("URS-AUD-404")
        def test_unknown(): pass
        """)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "test_made_up.py::test_unknown: URS-AUD-404" in done.stderr


def test_a_high_risk_requirement_whose_only_test_fails_fails_the_run(tmp_path):
    where = folder(tmp_path, requirement(), requirement(rid="URS-AUD-002", risk="low"))
    done, trace = run_pytest(tmp_path, where, """
        import pytest
        @pytest.mark.requirement("URS-AUD-001")
        def test_fails(): assert 1 == 2, "the chain is broken"
        @pytest.mark.requirement("URS-AUD-002")
        def test_passes(): pass
        """)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    assert "1 high-risk requirement(s) without a passing test: URS-AUD-001" in done.stdout
    written = json.loads(trace.read_text())
    assert written["high_risk_without_a_passing_test"] == ["URS-AUD-001"]
    failed = written["tests"]["test_made_up.py::test_fails"]
    assert (failed["outcome"], failed["requirements"]) == ("failed", ["URS-AUD-001"])
    assert "the chain is broken" in failed["message"]
    assert failed["checks"] == "fails"  # no docstring: the name, read as a sentence
    assert written["tests"]["test_made_up.py::test_passes"]["outcome"] == "passed"


def test_a_high_risk_requirement_no_test_names_fails_the_run_even_when_every_test_passes(tmp_path):
    where = folder(tmp_path, requirement(), requirement(rid="URS-AUD-002"))
    done, _ = run_pytest(tmp_path, where, """
        import pytest
        @pytest.mark.requirement("URS-AUD-001")
        def test_passes(): pass
        """)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout
    assert "without a passing test: URS-AUD-002" in done.stdout


def test_skipped_is_not_passing_and_procedure_requirements_need_no_test(tmp_path):
    where = folder(tmp_path, requirement(), requirement(
        rid="URS-AUD-002", extra='verification = "procedure"\nprocedure = "Back up the key."'))
    skipped, _ = run_pytest(tmp_path, where, """
        import pytest
        @pytest.mark.requirement("URS-AUD-001")
        def test_skipped(): pytest.skip("no broker")
        """)
    assert skipped.returncode == pytest.ExitCode.TESTS_FAILED
    assert "without a passing test: URS-AUD-001" in skipped.stdout
    passing, trace = run_pytest(tmp_path, where, """
        import pytest
        @pytest.mark.requirement("URS-AUD-001")
        def test_passes(): pass
        """)
    assert passing.returncode == pytest.ExitCode.OK, passing.stdout
    assert json.loads(trace.read_text())["high_risk_without_a_passing_test"] == []


def test_the_trace_is_gathered_across_xdist_workers(tmp_path):
    done, trace = run_pytest(tmp_path, folder(tmp_path, requirement()), """
        import pytest
        @pytest.mark.requirement("URS-AUD-001")
        def test_one():
            '''Every entry is chained
            to the one before.

            Details that are not the summary.'''
        def test_two(): pass
        """, "-n", "2")
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    tests = json.loads(trace.read_text())["tests"]
    assert tests["test_made_up.py::test_one"]["requirements"] == ["URS-AUD-001"]
    assert tests["test_made_up.py::test_one"]["checks"] == "Every entry is chained to the one before."
    assert tests["test_made_up.py::test_two"] == {**tests["test_made_up.py::test_two"], "requirements": []}


@pytest.mark.requirement("URS-VAL-003")
def test_the_compliance_matrix_document_is_generated_from_the_requirements_and_markers():
    """docs/compliance-matrix.md is what `atmp-hub compliance-matrix` prints (regenerate it with
    `atmp-hub compliance-matrix > docs/compliance-matrix.md` after changing a requirement or a marker)."""
    printed = atmp_hub("compliance-matrix", timeout=300)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == (ROOT / "docs" / "compliance-matrix.md").read_text(encoding="utf-8")
    catalogue = reqs.load()
    for r in catalogue.requirements.values():
        assert f"| {r.id} |" in printed.stdout
        if r.risk == "high" and r.needs_test:
            row = next(line for line in printed.stdout.splitlines() if line.startswith(f"| {r.id} |"))
            assert "**no test**" not in row, f"{r.id} is high risk and no test names it"
