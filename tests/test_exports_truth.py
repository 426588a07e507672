"""What exports and displays say is true (issue 25, points 3-6).

3. every exported time carries its UTC offset and agrees with the page's local time;
4. the provenance states the filter actually applied to the rows in the file;
5. the overview report's site x KPI table reads as a document (titles, units, words, integers, network);
6. one shown value has one status, decided on the value as shown, in every view."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dash
import pandas as pd
import plotly.utils
import pytest
from conftest import TEST_END, dash_call, login
from export_helpers import downloaded, export_call
from openpyxl import load_workbook
from pypdf import PdfReader

from dashboard import ids
from dashboard.exports import files
from dashboard.exports.provenance import Provenance
from queries.kpi import catalog
from queries.kpi.catalog import NETWORK, Kpi

CHICAGO = ZoneInfo("America/Chicago")
WINDOW_START = TEST_END - timedelta(days=90)


# --- helpers --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def export(hub_app):
    """export(user, page, item, fmt, site) -> the file's bytes; each file is built once per module."""
    made: dict[tuple, bytes] = {}

    def _get(user: str, page: str, item: str, fmt: str, site: str | None = None) -> bytes:
        key = (user, page, item, fmt, site)
        if key not in made:
            client = hub_app.server.test_client()
            assert login(client, user).status_code == 302
            made[key] = downloaded(export_call(client, page, item, fmt, site_id=site), page, item)[0]
        return made[key]
    return _get


def _csv(content: bytes) -> tuple[dict[str, str], pd.DataFrame]:
    """(provenance label -> first value, data rows as text) of an exported CSV."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    blank = rows.index([])
    header = {r[0].removeprefix("# "): (r[1] if len(r) > 1 else "") for r in rows[1:blank]}
    return header, pd.DataFrame(rows[blank + 2:], columns=rows[blank + 1])


def _xlsx(content: bytes) -> tuple[dict[str, str], pd.DataFrame]:
    wb = load_workbook(io.BytesIO(content))
    prov = {r[0]: r[1] for r in wb["Provenance"].iter_rows(values_only=True) if r[0]}
    head, *rows = list(wb.worksheets[0].iter_rows(values_only=True))
    return prov, pd.DataFrame(rows, columns=head, dtype=object)


def _pdf_text(content: bytes) -> str:
    """The PDF's text with all whitespace collapsed (table cells wrap over lines)."""
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).split())


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None and moment.utcoffset() is not None, f"{text!r} has no UTC offset"
    return moment


def _as_stored(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _stored(wh, table_sql: str) -> pd.DataFrame:
    return wh.query("sql/test_truth", sql=table_sql)


def _find(node, component_id):
    """The Dash component (as JSON) with this id inside a callback response."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node
        return next((f for v in node.values() if (f := _find(v, component_id)) is not None), None)
    if isinstance(node, list):
        return next((f for v in node if (f := _find(v, component_id)) is not None), None)
    return None


def _children(node) -> list:
    kids = node["props"].get("children") if isinstance(node, dict) else node
    return kids if isinstance(kids, list) else [kids]


def _text_of(node) -> str:
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list):
        return "".join(_text_of(n) for n in node)
    if isinstance(node, dict) and "props" in node:
        return _text_of(node["props"].get("children") or "")
    return ""


def _plain(component) -> object:
    return json.loads(json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder))


# --- 3. times carry their offset and agree with the page ------------------------------------------
@pytest.mark.requirement("URS-EXP-008")
def test_a_stored_utc_time_is_written_with_its_offset_in_csv_and_xlsx():
    """CHI-B0134: stored 08:31 UTC, shown 02:31 CST on the site page; the file must say which."""
    frame = pd.DataFrame({"batch_id": ["CHI-B0134"], "started_at": [pd.Timestamp("2026-11-20 08:31")],
                          "released_at": [pd.NaT], "on": [datetime(2026, 11, 20).date()]})
    local = Provenance(title="t", filters={}, window_start=TEST_END, window_end=TEST_END, data_as_of=None, kpis=(),
                       user_id="u", user_name="u", role="auditor", timezone="America/Chicago")
    header, data = _csv(files.to_csv(frame, local))
    assert data.loc[0, "started_at"] == "2026-11-20T02:31:00-06:00"
    assert data.loc[0, "released_at"] == "" and data.loc[0, "on"] == "2026-11-20"  # a date has no offset
    assert "America/Chicago" in header["Times in the data"] and "UTC offset" in header["Times in the data"]
    _, sheet = _xlsx(files.to_xlsx(frame, local))
    assert sheet.loc[0, "started_at"] == "2026-11-20T02:31:00-06:00"
    utc = Provenance(title="t", filters={}, window_start=TEST_END, window_end=TEST_END, data_as_of=None, kpis=(),
                     user_id="u", user_name="u", role="auditor")
    header, data = _csv(files.to_csv(frame, utc))
    assert data.loc[0, "started_at"] == "2026-11-20T08:31:00+00:00" and "in UTC" in header["Times in the data"]


@pytest.mark.requirement("URS-EXP-008", "URS-EXP-002")
def test_batches_csv_times_have_offsets_and_agree_with_the_site_page(export, hub_app, sample_warehouse):
    header, data = _csv(export("t.auditor", "site", "batches", "csv", "CHI"))
    assert "local time at the site (America/Chicago)" in header["Times in the data"]
    stored = _stored(sample_warehouse, "SELECT batch_id, started_at, released_at FROM batches WHERE site_id = 'CHI'"
                     ).set_index("batch_id")
    written = {}
    for row in data.itertuples():
        for column in ("started_at", "released_at"):
            cell = getattr(row, column)
            if not cell:
                assert pd.isna(stored.at[row.batch_id, column])
                continue
            moment = _aware(cell)
            assert moment.utcoffset() == moment.astimezone(CHICAGO).utcoffset()  # Chicago's offset that day
            assert _as_stored(moment) == pd.Timestamp(stored.at[row.batch_id, column]).to_pydatetime()
        written[row.batch_id] = _aware(row.started_at)
    assert len(written) >= 10

    client = hub_app.server.test_client()
    login(client, "t.auditor")
    response = dash_call(client, hub_app, ["site-title", ids.SITE_BODY, ids.SITE_AS_OF],
                         {f"{ids.SITE_WINDOW}.value": 90}, {f"{ids.SITE_ID_STORE}.data": "CHI"}).get_json()
    table = _find(response["response"], "site-batches")
    body = _children(table)[1]
    shown = {_text_of(_children(tr)[0]): _text_of(_children(tr)[2]) for tr in _children(body)}
    assert len(shown) >= 10
    for batch_id, page_text in shown.items():  # e.g. '2026-05-29 23:44 CDT' on the page
        moment = written[batch_id]
        assert page_text == f"{moment:%Y-%m-%d %H:%M} {moment.astimezone(CHICAGO).tzname()}", batch_id


@pytest.mark.requirement("URS-EXP-008")
def test_capas_xlsx_times_have_offsets(export, sample_warehouse):
    prov, sheet = _xlsx(export("t.auditor", "site", "capas", "xlsx", "CHI"))
    assert "America/Chicago" in prov["Times in the data"]
    stored = _stored(sample_warehouse, "SELECT capa_id, opened_at, due_at FROM capas WHERE site_id = 'CHI'"
                     ).set_index("capa_id")
    assert len(sheet) > 0
    for row in sheet.itertuples():
        for column in ("opened_at", "due_at"):
            cell = getattr(row, column)
            assert isinstance(cell, str), f"{column} written without its offset: {cell!r}"
            assert _as_stored(_aware(cell)) == pd.Timestamp(stored.at[row.capa_id, column]).to_pydatetime()


@pytest.mark.requirement("URS-EXP-008", "URS-EXP-006")
def test_binder_tables_print_times_with_offsets_in_the_time_the_provenance_names(export, sample_warehouse,
                                                                               output_dir):
    content = export("t.auditor", "site", "report", "pdf", "CHI")
    (output_dir / "inspection-binder-CHI.pdf").write_bytes(content)
    text = _pdf_text(content)
    assert "Times in the data ISO 8601 with the UTC offset, in local time at the site (America/Chicago)" in text
    assert "(UTC)" not in text.split("KPI definitions")[0].replace("Time window", "")  # no table says UTC
    batches = _stored(sample_warehouse, "SELECT batch_id, started_at FROM batches WHERE site_id = 'CHI' "
                      "AND started_at >= TIMESTAMP '2026-03-03' AND started_at < TIMESTAMP '2026-06-01' "
                      "ORDER BY started_at DESC")
    assert len(batches) >= 10
    for row in batches.head(40).itertuples():
        local = pd.Timestamp(row.started_at).tz_localize("UTC").tz_convert(CHICAGO).isoformat(timespec="minutes")
        assert re.search(rf"{row.batch_id} .{{0,40}}{re.escape(local)}", text), (row.batch_id, local)


# --- 4. provenance states the filter applied to the rows ------------------------------------------
@pytest.mark.requirement("URS-EXP-009")
def test_people_survey_export_says_it_holds_every_wave_and_which(export):
    header, data = _csv(export("t.auditor", "people", "survey", "csv"))
    waves = sorted(set(data["wave"]))
    assert waves[0] < "2026-Q1"  # the file reaches far before the 90-day window
    assert "last 90 days" not in header["Window"]
    assert header["Window"].startswith("not applied: all survey waves submitted before the window end")
    assert f"all survey waves in scope: {waves[0]} to {waves[-1]} ({len(waves)} waves)" in header["Rows"]
    prov, sheet = _xlsx(export("t.auditor", "people", "survey", "xlsx"))
    assert prov["Window"] == header["Window"] and prov["Rows"] == header["Rows"]
    assert sheet["respondents"].dropna().map(lambda v: isinstance(v, int)).all()  # counts as integers


@pytest.mark.requirement("URS-EXP-009")
def test_site_survey_export_names_its_waves(export):
    header, data = _csv(export("t.auditor", "site", "survey", "csv", "CHI"))
    waves = sorted(set(data["wave"]))
    assert "last 90 days" not in header["Window"] and "all survey waves" in header["Window"]
    assert f"{waves[0]} to {waves[-1]} ({len(waves)} waves)" in header["Rows"]


@pytest.mark.requirement("URS-EXP-009")
def test_site_items_state_the_rows_they_hold(export):
    start, end = WINDOW_START.replace(tzinfo=UTC), TEST_END.replace(tzinfo=UTC)
    header, capas = _csv(export("t.auditor", "site", "capas", "csv", "CHI"))
    assert all(_aware(t) < end for t in capas["opened_at"])  # open at the end: opened at any time before it
    assert "last 90 days" not in header["Window"] and "still open at the window end" in header["Window"]
    assert header["Rows"] == f"open CAPAs of CHI: {len(capas)}"

    header, drift = _csv(export("t.auditor", "site", "drift", "csv", "CHI"))
    assert header["Window"].startswith("not applied: documents behind the master version at the window end")
    assert header["Rows"] == f"controlled documents of CHI behind master: {len(drift)}"

    header, devs = _csv(export("t.auditor", "site", "deviations", "csv", "CHI"))
    assert header["Window"] == "last 90 days"
    assert all(start <= _aware(t) < end for t in devs["detected_at"])
    assert header["Rows"] == ("deviations at CHI detected in the window (2026-03-03 00:00 UTC to 2026-06-01 00:00 UTC): "
                              f"{len(devs)}")

    header, batches = _csv(export("t.auditor", "site", "batches", "csv", "CHI"))
    assert all(start <= _aware(t) < end for t in batches["started_at"])
    assert header["Rows"] == ("batches of CHI started in the window (2026-03-03 00:00 UTC to 2026-06-01 00:00 UTC): "
                              f"{len(batches)}")


# --- 5. the overview report's KPI table reads as a document ---------------------------------------
@pytest.fixture(scope="module")
def overview_report(export, output_dir) -> tuple[str, pd.DataFrame]:
    """(the report's text, the site x KPI rows it was built from, as the KPI CSV exports them); the PDF is
    kept in test-output/ to look at (docs/screenshots/overview-report-kpis.png is its KPI table page)."""
    content = export("t.leader", "overview", "report", "pdf")
    (output_dir / "overview-report.pdf").write_bytes(content)
    text = _pdf_text(content)
    _, kpis = _csv(export("t.leader", "overview", "kpis", "csv"))
    return text, kpis


def _expected_cell(kpi: Kpi, row) -> str:
    from dashboard.components.formatting import format_number, status_parts

    if row is None or (not row.note and row.value == ""):
        return "no data"
    if row.note:
        return "suppressed"
    value = float(row.value)
    return f"{status_parts(kpi, value)[0]} {format_number(kpi, value)}"


def test_overview_report_site_kpi_table_has_titles_units_words_and_the_network_row(overview_report,
                                                                                 sample_warehouse):
    text, kpis = overview_report
    grid = text.split("Site × KPI table", 1)[1].split("KPI definitions", 1)[0]
    assert not re.search(r"\bnan\b", text), "a missing value printed as nan"
    assert "_" not in grid, "a raw KPI id in the table"
    for kpi in catalog.CATALOG:
        assert f"{kpi.title} ({kpi.unit})" in grid, kpi.id
    names = _stored(sample_warehouse, "SELECT site_id, name FROM sites").set_index("site_id")["name"]
    cells = {(r.site_id, r.kpi_id): r for r in kpis.itertuples()}
    labels = {"NETWORK": "Network"} | {s: f"{s} · {names[s].split(' - ')[0]}" for s in set(kpis.site_id) - {"NETWORK"}}
    missing = 0
    for start in range(0, len(catalog.CATALOG), 5):
        chunk = catalog.CATALOG[start:start + 5]
        for site_id, label in labels.items():
            expected = " ".join([label, *(_expected_cell(k, cells.get((site_id, k.id))) for k in chunk)])
            missing += expected.count("no data")
            assert expected in grid, expected
    assert missing > 0 and grid.count("no data") >= missing  # the sample has empty cells: in words


def test_overview_report_counts_are_integers(overview_report):
    text, kpis = overview_report
    network = text.split("Network KPIs", 1)[1].split("Headline KPIs by site", 1)[0]
    rows = kpis[(kpis.site_id == "NETWORK") & (kpis.n != "")]
    assert len(rows) > 10
    for row in rows.itertuples():
        n = int(row.n)  # the CSV writes the count as an integer too ("101", never "101.0")
        assert re.search(rf"\b{re.escape(f'{n:,}')} (no )?target", network), (row.kpi_id, n)
        assert not re.search(rf"\b{re.escape(f'{n:,}')}\.\d+ (no )?target", network), (row.kpi_id, n)  # "90.00"


# --- 6. one shown value, one status ---------------------------------------------------------------
PSYCH = catalog.get("psych_safety")  # 0 decimals, target >= 70


@pytest.mark.requirement("URS-KPI-011")
def test_status_is_decided_on_the_value_as_shown():
    from dashboard.components.formatting import format_number, kpi_status, shown_value, status_parts

    assert format_number(PSYCH, 70.05) == format_number(PSYCH, 69.96) == "70"
    assert kpi_status(PSYCH, 70.05) == kpi_status(PSYCH, 69.96) == "ok"
    assert shown_value(PSYCH, 69.96) == 70.0
    assert kpi_status(PSYCH, 69.4) == "near"  # prints "69": below the target as printed
    lower = Kpi("t", "T", "", "", "", "h", "lower", 24.0, "", None, "mean", decimals=1)
    assert kpi_status(lower, 24.04) == "ok" and kpi_status(lower, 24.06) == "near"  # "24.0" vs "24.1"
    assert kpi_status(PSYCH, None) == "none" and kpi_status(PSYCH, 80, suppressed=True) == "none"
    untargeted = catalog.get("training_performance")
    assert kpi_status(untargeted, -0.4) == "no_target" and status_parts(untargeted, -0.4)[1] == "No target"


def _nyc_sea_frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame([
        {"site_id": site, "kpi_id": "psych_safety", "value": value, "n": 30, "numerator": None, "denominator": None,
         "suppressed": False} for site, value in ((NETWORK, 70.0), ("NYC", 70.05), ("SEA", 69.96))])
    sites = pd.DataFrame({"site_id": ["NYC", "SEA"], "name": ["Hudson University Hospital", "Puget Sound"],
                          "timezone": ["America/New_York", "America/Los_Angeles"]})
    return frame, sites


@pytest.mark.requirement("URS-KPI-011")
def test_every_view_gives_70_05_and_69_96_one_status(hub_app):
    from dashboard.components.kiosk_slides import Slide, _tile, overview_slide
    from dashboard.components.kpi_chart import kpi_by_site
    from dashboard.components.kpi_tile import kpi_tile
    from dashboard.components.site_grid import site_grid
    from dashboard.exports.sources import PageData, _long_kpis

    # The page module as Dash loaded it (importing dashboard.pages.site again would register it twice).
    site_page = next(sys.modules[p["module"]] for p in dash.page_registry.values()
                     if p.get("path_template") == "/site/<site_id>")
    kpi_comparison = site_page.kpi_comparison
    frame, sites = _nyc_sea_frame()
    # the overview grid
    html = site_grid(frame, sites, [PSYCH], link_sites=False)
    cells = re.findall(r'data-symbol="([^"]+)">([^<]+)</td>', html)
    assert cells == [("✓", "70")] * 3, cells
    # the overview tiles and the kiosk tiles
    for value in (70.05, 69.96):
        assert "On target" in json.dumps(_plain(kpi_tile(PSYCH, value, None, days=90)), ensure_ascii=False)
        assert "On target" in json.dumps(_plain(_tile(PSYCH, {"value": value})), ensure_ascii=False)
    # the kiosk's site table
    slide = json.dumps(_plain(overview_slide(Slide("overview"), None, frame, sites)), ensure_ascii=False)
    assert slide.count('"✓"') >= 3 and '"!"' not in slide  # network tile, NYC and SEA cells
    # the site drill-down's KPI table
    for site_id in ("NYC", "SEA"):
        table = json.dumps(_plain(kpi_comparison(frame, site_id)), ensure_ascii=False)
        row = table.split('"kpi": "psych_safety"')[0].rsplit('"Psychological safety index"', 1)[1]
        assert '"✓"' in row and "On target" in row and "Near target" not in row, site_id
    # the chart export and the CSV/XLSX export
    bars = kpi_by_site(frame, sites, [PSYCH]).data[0].text
    assert list(bars) == ["✓ 70 · On target"] * 3
    long = _long_kpis(frame, PageData("overview", None, 90, None, None, None, sites))
    assert set(long["status"]) == {"✓ On target"}


@pytest.mark.requirement("URS-KPI-011")
def test_no_view_decides_a_kpi_status_on_its_own():
    """One function decides: views call formatting.kpi_status (or status_parts), never Kpi.status."""
    root = Path(__file__).resolve().parent.parent / "dashboard"
    offenders = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py") if p.name != "formatting.py"
                 for i, line in enumerate(p.read_text().splitlines(), start=1) if re.search(r"\bk(pi)?\.status\(", line)]
    assert offenders == []
