"""Golden-SQL snapshots: each catalogue KPI's SQL text, so a changed definition is a visible diff.

Values are checked by hand in tests/test_kpis.py; these check the text. After a deliberate change,
regenerate with `ATMP_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_kpi_snapshots.py` and review
the diff of tests/snapshots/ in the same commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from queries.catalog import CATALOG
from queries.kpis import kpi_sql

SNAPSHOT_DIR = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("ATMP_UPDATE_SNAPSHOTS") == "1"
HOW_TO_UPDATE = "if the change is deliberate, rerun with ATMP_UPDATE_SNAPSHOTS=1 and commit the diff"


@pytest.mark.parametrize("kpi_id", [k.id for k in CATALOG])
def test_kpi_sql_matches_snapshot(kpi_id: str) -> None:
    rendered = kpi_sql(kpi_id)
    path = SNAPSHOT_DIR / f"{kpi_id}.sql"
    if UPDATE:
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        path.write_text(rendered)
    assert path.is_file(), f"no snapshot for KPI {kpi_id!r} ({path.name}); {HOW_TO_UPDATE}"
    assert rendered == path.read_text(), f"SQL of KPI {kpi_id!r} differs from {path.name}; {HOW_TO_UPDATE}"


def test_no_snapshot_without_a_kpi() -> None:
    """A KPI removed or renamed in the catalogue leaves no stale snapshot behind."""
    known = {f"{k.id}.sql" for k in CATALOG}
    orphans = sorted(p for p in SNAPSHOT_DIR.glob("*.sql") if p.name not in known)
    if UPDATE:
        for path in orphans:
            path.unlink()
        orphans = []
    assert orphans == [], f"snapshots without a catalogue KPI: {[p.name for p in orphans]}; {HOW_TO_UPDATE}"
