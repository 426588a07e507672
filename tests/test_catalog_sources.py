"""The catalogue's sources are documents in this repository or primary sources, never a file outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from queries.kpi.catalog import CATALOG

ROOT = Path(__file__).resolve().parent.parent
KPI_DOC = ROOT / "docs" / "kpis.md"


@pytest.mark.requirement("URS-KPI-001")
def test_every_source_cites_a_document_that_exists_here():
    for kpi in CATALOG:
        cited = re.findall(r"\b[\w./-]+\.(?:md|py|sql)\b", kpi.source)
        assert cited, f"{kpi.id}: source {kpi.source!r} cites no document of the project"
        for doc in cited:
            assert (ROOT / doc).is_file(), f"{kpi.id}: source cites {doc}, which is not in the repository"
        assert "design.md" not in kpi.source and "framework" not in kpi.source.lower(), kpi.source


@pytest.mark.requirement("URS-KPI-001")
def test_the_kpi_document_gives_the_reasons_for_every_kpi():
    sections = set(re.findall(r"^### (\w+)$", KPI_DOC.read_text(), flags=re.M))
    assert sections == {kpi.id for kpi in CATALOG}
