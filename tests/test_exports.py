"""Exports: every format opens and carries its provenance; scope, suppression and the audit trail hold."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime

import pandas as pd
import pytest
from conftest import TEST_END, login
from export_helpers import copied_app, downloaded, export_call
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader

from dashboard.exports import files
from dashboard.exports.provenance import Provenance
from queries.kpi import catalog

PROVENANCE_LABELS = ("Title", "Time window", "Data as of", "KPI definitions used", "Exported by", "Exported at",
                     "App version", "Export id")


def _export(make_client, user, page, item, fmt, **kw):
    client = make_client(user)
    return downloaded(export_call(client, page, item, fmt, **kw), page, item)


def _last_export_entry(wh) -> dict:
    entries = wh.query("sql/audit_all")
    row = entries[entries.action == "export"].iloc[-1]
    return {**row.to_dict(), "payload": json.loads(row.new_value)}


@pytest.mark.requirement("URS-EXP-001", "URS-EXP-003", "URS-EXP-004")
def test_chart_png_carries_provenance_in_text_chunks_and_footer(make_client, sample_warehouse):
    content, name = _export(make_client, "t.auditor", "site", "deviations", "png", site_id="CHI")
    assert name.startswith("atmp_site_CHI_deviations_") and name.endswith(".png")
    with Image.open(io.BytesIO(content)) as img:
        img.load()
        assert img.format == "PNG" and img.width >= 2000  # 1400 px at scale 2
        text = img.text
    prov = json.loads(text["Provenance"])
    assert prov["Title"].startswith("Deviation timeline · ") and prov["Title"].endswith(" (CHI)")
    assert prov["Exported by"] == "t.auditor (t.auditor, auditor)"
    assert prov["Time window"] == "2026-03-03 00:00 to 2026-06-01 00:00 UTC"
    assert prov["Data as of"].endswith("UTC") and prov["App version"].startswith("ATMP Quality Hub ")
    assert "Window" in prov and prov["Window"] == "last 90 days"
    assert "t.auditor" in text["Author"] and "Exported by t.auditor" in text["Description"]
    entry = _last_export_entry(sample_warehouse)
    assert entry["user_id"] == "t.auditor" and entry["object_id"] == "CHI/deviations"
    assert entry["payload"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert entry["payload"]["export_id"] == prov["Export id"]


@pytest.mark.requirement("URS-EXP-001", "URS-EXP-003", "URS-KPI-002")
def test_chart_pdf_and_svg_carry_provenance(make_client):
    pdf, _ = _export(make_client, "t.leader", "overview", "headline", "pdf")
    reader = PdfReader(io.BytesIO(pdf))
    page_text = reader.pages[0].extract_text()
    assert "Exported by t.leader (t.leader)" in page_text
    assert "Window 2026-03-03 00:00 to 2026-06-01 00:00 UTC" in page_text
    meta = reader.metadata
    assert meta.title == "Headline KPIs by site" and "t.leader" in meta.author
    prov = json.loads(meta["/ATMPProvenance"])
    assert [d["id"] for d in prov["KPI definitions"]] == [k.id for k in catalog.HEADLINE]
    assert prov["KPI definitions"][0]["definition"] == catalog.get("mttd").definition

    svg, _ = _export(make_client, "t.leader", "overview", "headline", "svg")
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert root.find("svg:title", ns).text == "Headline KPIs by site"
    meta = root.find("svg:metadata", ns)
    block = json.loads(next(iter(meta)).text)
    assert block["Exported by"] == "t.leader (t.leader, leadership)"
    assert b"Exported by t.leader" in svg  # the visible footer too


@pytest.mark.requirement("URS-EXP-001", "URS-EXP-003", "URS-KPI-002", "URS-KPI-010")
def test_csv_has_provenance_header_then_data(make_client):
    content, name = _export(make_client, "t.auditor", "site", "kpis", "csv", site_id="CHI")
    assert name.endswith(".csv")
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    blank = rows.index([])
    header = {r[0].removeprefix("# "): r[1:] for r in rows[1:blank]}
    for label in PROVENANCE_LABELS:
        assert label in header, label
    assert header["Site"][0].endswith("(CHI), times in America/Chicago")
    assert header["KPI mttd"][1] == catalog.get("mttd").definition
    data = pd.read_csv(io.StringIO(text), skiprows=blank + 1)
    assert list(data.kpi_id) == [k.id for k in catalog.CATALOG]
    assert {"site_value", "network_value", "target", "status"} <= set(data.columns)


@pytest.mark.requirement("URS-EXP-001", "URS-EXP-003")
def test_xlsx_has_data_and_provenance_sheet(make_client):
    content, _ = _export(make_client, "t.leader", "overview", "kpis", "xlsx")
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames == ["Site × KPI table", "Provenance"]
    prov = {r[0]: r[1] for r in wb["Provenance"].iter_rows(values_only=True) if r[0]}
    for label in PROVENANCE_LABELS:
        assert label in prov, label
    assert prov["Exported by"] == "t.leader (t.leader, leadership)"
    kpi_rows = [r for r in wb["Provenance"].iter_rows(values_only=True) if r[0] in catalog.KPIS]
    assert len(kpi_rows) == len(catalog.CATALOG)
    data = list(wb.active.iter_rows(values_only=True))
    assert data[0][:5] == ("site_id", "site", "kpi_id", "kpi", "value")
    assert {r[0] for r in data[1:]} == {"NETWORK", "HUB", "BOS", "NYC", "ATL", "CHI", "DEN", "PHX", "SEA", "SFO"}
    assert wb.properties.creator == "t.leader (t.leader)"


@pytest.mark.requirement("URS-EXP-010")
def test_csv_and_xlsx_neutralise_formula_injection():
    frame = pd.DataFrame({"text": ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "safe"],
                          "number": [-1.5, 2, 3, 4, 5, 6, 7]})
    prov = Provenance(title="=cmd|' /C calc'!A0", filters={"Site": "@evil"}, window_start=TEST_END,
                      window_end=TEST_END, data_as_of=None, kpis=(), user_id="u", user_name="-u", role="auditor")
    text = files.to_csv(frame, prov).decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    for cell in cells:
        assert cell == "-1.5" or not cell.startswith(files.FORMULA_TRIGGERS), cell
    assert "'=HYPERLINK(\"http://x\")" in cells and "'-2+3" in cells and "safe" in cells
    assert "-1.5" in cells  # numbers stay numbers
    wb = load_workbook(io.BytesIO(files.to_xlsx(frame, prov)))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)


@pytest.mark.requirement("URS-EXP-006", "URS-EXP-004", "URS-KPI-002")
def test_inspection_binder_is_one_multi_page_pdf(make_client, sample_warehouse):
    content, name = _export(make_client, "t.auditor", "site", "report", "pdf", site_id="CHI")
    assert name.startswith("atmp_site_CHI_report_")
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 4
    text = "\n".join(p.extract_text() for p in reader.pages)
    name = sample_warehouse.query("sql/site_name", sql="SELECT name FROM sites WHERE site_id = 'CHI'").iat[0, 0]
    assert f"Inspection binder: {name} (CHI)" in text
    for label in PROVENANCE_LABELS:
        assert label in text, label
    for heading in ("KPIs: this site beside the network", "Deviations", "Psychological safety by survey wave",
                    "Open CAPAs", "Master-document drift", "Batches started in the window", "KPI definitions"):
        assert heading in text, heading
    for kpi in catalog.CATALOG:
        assert kpi.title in text
    assert f"page {len(reader.pages)} of {len(reader.pages)}" in text
    assert reader.metadata.title == f"Inspection binder: {name} (CHI)"
    assert json.loads(reader.metadata["/ATMPProvenance"])["Exported by"] == "t.auditor (t.auditor, auditor)"
    assert len(reader.pages[1].images) + len(reader.pages[2].images) >= 1  # the charts are in it
    entry = _last_export_entry(sample_warehouse)
    assert entry["object_id"] == "CHI/report" and entry["payload"]["sha256"] == hashlib.sha256(content).hexdigest()


@pytest.mark.requirement("URS-EXP-001")
def test_overview_report(make_client):
    content, _ = _export(make_client, "t.leader", "overview", "report", "pdf")
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Network overview report" in text and "Headline KPIs by site" in text and "Network KPIs" in text


@pytest.fixture(scope="module")
def small_group_app(sample_warehouse, tmp_path_factory):
    """The sample network plus a site whose only survey group has 3 respondents (a copy: the shared
    sample warehouse stays as it is)."""
    def add_small_group(wh):
        with wh.transaction() as conn:
            wh.bulk_insert(conn, "sites", pd.DataFrame([{"site_id": "TST", "name": "Test node", "region": "US",
                                                         "timezone": "UTC", "kind": "node",
                                                         "onboarded_at": datetime(2024, 1, 1)}]))
            wh.bulk_insert(conn, "survey_responses", pd.DataFrame([
                {"response_id": f"TST-{i}", "site_id": "TST", "team": "QC", "wave": "2026-Q2",
                 "submitted_at": datetime(2026, 5, 1), **{f"q{q}": 6 for q in range(1, 8)}} for i in range(3)]))

    with copied_app(sample_warehouse, tmp_path_factory.mktemp("small"), add_small_group) as (app, _):
        yield app


@pytest.mark.requirement("URS-EXP-011")
def test_survey_suppression_holds_in_exports(small_group_app):
    client = small_group_app.server.test_client()
    login(client, "t.auditor")
    content, _ = downloaded(export_call(client, "site", "survey", "csv", site_id="TST"), "site", "survey")
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    waves = pd.read_csv(io.StringIO(text), skiprows=rows.index([]) + 1)
    assert list(waves.wave) == ["2026-Q2"]
    assert waves.index_0_100.isna().all() and waves.respondents.isna().all()
    assert (waves.note == "suppressed (< 5 respondents)").all()

    content, _ = downloaded(export_call(client, "site", "kpis", "xlsx", site_id="TST"), "site", "kpis")
    sheet = load_workbook(io.BytesIO(content)).active
    header, *data = list(sheet.iter_rows(values_only=True))
    psych = dict(zip(header, next(r for r in data if r[0] == "psych_safety"), strict=True))
    assert psych["site_value"] is None and psych["n"] is None
    assert psych["note"] == "suppressed (< 5 respondents)"

    content, _ = downloaded(export_call(client, "site", "report", "pdf", site_id="TST"), "site", "report")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "suppressed (< 5 respondents)" in text
    assert "Psychological safety index /100 suppressed" in text.replace("\n", " ")


@pytest.mark.parametrize(("user", "page", "item", "fmt", "site", "status"), [
    ("t.manager.chi", "site", "kpis", "csv", "CHI", 200),
    ("t.manager.chi", "site", "kpis", "csv", "ATL", "not found"),
    ("t.manager.chi", "overview", "kpis", "csv", None, 403),
    ("t.display", "overview", "headline", "png", None, 403),
    ("t.display", "site", "report", "pdf", "CHI", 403),
    ("t.admin", "overview", "kpis", "csv", None, 403),
    ("t.auditor", "site", "../../etc", "csv", "CHI", "not found"),
    ("t.auditor", "site", "kpis", "exe", "CHI", "not found"),
])
@pytest.mark.requirement("URS-EXP-005")
def test_export_scope_and_roles(make_client, user, page, item, fmt, site, status):
    response = export_call(make_client(user), page, item, fmt, site_id=site, formats=(fmt,))
    if status == "not found":
        assert response.status_code == 200
        body = json.dumps(response.get_json())
        assert "Not found" in body and "base64" not in body
    else:
        assert response.status_code == status


@pytest.mark.requirement("URS-EXP-005", "URS-KPI-008")
def test_forged_window_falls_back_to_default(make_client):
    content, _ = _export(make_client, "t.auditor", "site", "kpis", "csv", site_id="CHI", days=100000)
    assert "# Window,last 90 days" in content.decode("utf-8-sig")


def test_a_chart_export_without_chromium_fails_at_once_and_says_why(tmp_path):
    """kaleido waits for a browser forever when none is installed: the export must refuse instead."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, BROWSER_PATH=str(tmp_path / "no-chromium-here"))
    code = ("import plotly.graph_objects as go\nfrom dashboard.exports import files\n"
            "files.to_image(go.Figure(go.Bar(y=[1, 2])), 'png')")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "ChartRendererMissing: chart images need Chromium on the server" in done.stderr
    assert "no-chromium-here" in done.stderr
