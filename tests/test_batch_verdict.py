"""A batch without CQA results is pending, never "within spec": the query, the site page's table and
the inspection binder (read back from the PDF) say the same for every batch."""

from __future__ import annotations

import io
import json

import pytest
from conftest import TEST_END, dash_call
from export_helpers import downloaded, export_call
from pypdf import PdfReader

from dashboard.components.formatting import CQA_VERDICT_TEXT
from queries.engine.scope import build_scope

CQAS = ["viability_pct", "transduction_pct", "cd3_pct", "vcn", "dose", "endotoxin_eu_ml"]


def chi_batches(wh):
    scope = build_scope(user_id="t.auditor", role="auditor", own_site=None, all_sites=["CHI"], end=TEST_END, days=90)
    return wh.query("sql/site_batches", scope=scope.for_site("CHI"))


@pytest.mark.requirement("URS-EXP-007")
def test_the_verdict_follows_the_results_recorded(sample_warehouse):
    batches = chi_batches(sample_warehouse)
    untested = batches[batches[CQAS].isna().all(axis=1)]
    complete = batches[batches[CQAS].notna().all(axis=1)]
    assert len(untested) > 0, "the sample should hold batches still in testing"
    assert (untested["cqa_verdict"] == "pending").all()
    assert set(complete["cqa_verdict"]) <= {"oos", "within_spec"}
    assert (batches.loc[batches["oos"], "cqa_verdict"] == "oos").all()
    within = batches[batches["cqa_verdict"] == "within_spec"]
    assert within[CQAS].notna().all(axis=None) and not within["oos"].any()


@pytest.mark.requirement("URS-EXP-007")
def test_site_page_and_binder_never_certify_an_untested_batch(sample_warehouse, make_client, hub_app):
    batches = chi_batches(sample_warehouse)
    shown = batches.head(40)
    pending = int((shown["cqa_verdict"] == "pending").sum())
    within = int((shown["cqa_verdict"] == "within_spec").sum())
    assert pending > 0
    client = make_client("t.auditor")
    response = dash_call(client, hub_app, ["site-title", "site-body", "site-as-of"], {"site-window.value": 90},
                         {"site-id.data": "CHI"})
    page = json.dumps(response.get_json(), ensure_ascii=False)
    on_page = batches.head(25)["cqa_verdict"].value_counts()  # the page shows the newest 25
    assert page.count(CQA_VERDICT_TEXT["pending"]) == on_page.get("pending", 0) > 0
    assert page.count(CQA_VERDICT_TEXT["within_spec"]) == on_page.get("within_spec", 0)

    content, _ = downloaded(export_call(client, "site", "report", "pdf", site_id="CHI"), "site", "report")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    start = text.index("Batches started in the window")
    section = text[start:text.index("KPI definitions", start)]
    assert section.count("testing pending") == pending
    assert section.count("within spec") == within
    for batch_id in shown.loc[shown["cqa_verdict"] == "pending", "batch_id"]:
        line = next(part for part in section.split("\n") if batch_id in part)
        assert "within spec" not in line, line
