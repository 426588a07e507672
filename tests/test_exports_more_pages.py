"""Exports of /signals, /comparability and /monitoring/<site>: each file opens, carries its provenance with
the selections actually applied, holds the rows the page's query function returns for the user's scope,
and is in the audit trail with its SHA-256; a foreign site, sensor or forged selection gets nothing, and
roles without the page (or the display role) are refused."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import timedelta

import pandas as pd
import pytest
from conftest import PASSWORDS, TEST_END, login, sign_in
from export_helpers import copied_app, downloaded, export_call
from openpyxl import load_workbook
from PIL import Image
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from dashboard import ids
from queries.analyses import comparability as cmp
from queries.analyses import monitoring, sensor_drift, signals
from queries.engine.scope import build_scope

IMR = {ids.SIG_PRODUCT: "CD19 CAR-T", ids.SIG_CQA: "viability_pct", ids.SIG_RULES: "nelson"}
MIN_BATCHES = 5  # the test app's min_batches_for_comparability (the default)


# --- helpers -----------------------------------------------------------------------------------------
def scope_of(wh, user_id: str, days: int = 90):
    """The scope the server builds for this user (dashboard.context.scope), for the expected rows."""
    role, site = PASSWORDS[user_id]
    return build_scope(user_id=user_id, role=role, own_site=site, all_sites=list(wh.query("sql/site_ids")["site_id"]),
                       end=TEST_END, days=days)


def read_csv(content: bytes) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """(provenance block: label -> values, data) of an exported CSV."""
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    blank = rows.index([])
    return ({r[0].removeprefix("# "): r[1:] for r in rows[1:blank]},
            pd.read_csv(io.StringIO(text), skiprows=blank + 1, keep_default_na=False, na_values=[""]))


def read_xlsx(content: bytes) -> tuple[dict[str, str], pd.DataFrame, str]:
    """(provenance sheet: label -> value, data sheet, data sheet title) of an exported workbook."""
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames[1] == "Provenance"
    prov = {r[0]: r[1] for r in wb["Provenance"].iter_rows(values_only=True) if r[0]}
    header, *rows = list(wb.active.iter_rows(values_only=True))
    return prov, pd.DataFrame(rows, columns=header), wb.active.title


def png_provenance(content: bytes) -> dict:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(content)) as img:
        img.load()
        return json.loads(img.text["Provenance"])


def pdf_provenance(content: bytes) -> tuple[dict, str]:
    assert content[:5] == b"%PDF-"
    reader = PdfReader(io.BytesIO(content))
    return json.loads(reader.metadata["/ATMPProvenance"]), reader.pages[0].extract_text()


def utc(text: str) -> pd.Timestamp:
    """An exported time (ISO 8601 with its offset) as the naive UTC time the warehouse stores."""
    return pd.Timestamp(text).tz_convert("UTC").tz_localize(None)


def export_entries(wh) -> pd.DataFrame:
    entries = wh.query("sql/audit_all")
    return entries[entries.action == "export"]


def assert_audited(wh, content: bytes, name: str, page: str, object_id: str, user_id: str) -> dict:
    row = export_entries(wh).iloc[-1]
    payload = json.loads(row.new_value)
    assert (row.user_id, row.object_type, row.object_id) == (user_id, page, object_id)
    assert payload["sha256"] == hashlib.sha256(content).hexdigest() and payload["file"] == name
    return payload


def fetch(client, page, item, fmt, *, days=90, states=None) -> tuple[bytes, str]:
    """The file the page's export menu gives for these selections (and the page's day window)."""
    states = {ids.SIG_WINDOW: days, ids.CMP_WINDOW: days, **(states or {})}
    return downloaded(export_call(client, page, item, fmt, states=states), page, item)


def assert_refused(response, status):
    if status == "not found":  # the export callback's answer to anything outside the user's choices
        assert response.status_code == 200
        body = json.dumps(response.get_json())
        assert "Not found" in body and "base64" not in body
    else:
        assert response.status_code == status
    for other in ("ATL-", "DEN-", "SEA-"):
        assert other.encode() not in response.data


# --- /signals ----------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-EXP-001", "URS-EXP-002", "URS-EXP-003", "URS-EXP-004", "URS-EXP-009")
def test_signals_control_chart_csv_and_png(make_client, sample_warehouse):
    client = make_client("t.manager.chi")
    states = {ids.SIG_SITE: "CHI", **IMR, ids.SIG_RULES: "western_electric"}
    content, name = fetch(client, "signals", "imr", "csv", days=180, states=states)
    assert name.startswith("atmp_signals_CHI_imr_") and name.endswith(".csv")
    prov, rows = read_csv(content)
    assert prov["Product"] == ["CD19 CAR-T"] and prov["CQA"] == ["Viability (%) (viability_pct)"]
    assert prov["Run rules"] == ["Western Electric (4 rules)"]
    assert "(CHI)" in prov["Site"][0]
    assert prov["Window"][0].startswith("batches started in the last 180 days")
    assert prov["Exported by"] == ["t.manager.chi (t.manager.chi, site_manager)"]
    expected = signals.cqa_chart(sample_warehouse, scope_of(sample_warehouse, "t.manager.chi", 180), "CHI",
                                 "CD19 CAR-T", "viability_pct", "western_electric")
    assert len(rows) == len(expected) > 20
    assert list(rows["batch_id"]) == list(expected["batch_id"])
    assert rows["value"].tolist() == pytest.approx(expected["value"].astype(float).tolist())
    assert rows["flagged"].tolist() == expected["flagged"].tolist()
    assert set(rows["site_id"]) == {"CHI"} and set(rows["cqa"]) == {"viability_pct"}
    assert prov["Rows"][0].startswith(f"{len(expected)} completed batches of CD19 CAR-T at CHI started in the window")
    assert "transduction_pct" not in rows.columns  # only the charted CQA
    assert_audited(sample_warehouse, content, name, "signals", "CHI/imr", "t.manager.chi")

    png, name = fetch(client, "signals", "imr", "png", days=180, states=states)
    meta = png_provenance(png)
    assert meta["Title"].startswith("I-MR control chart · ") and meta["Title"].endswith("(CHI)")
    assert meta["CQA"] == "Viability (%) (viability_pct)" and meta["Run rules"] == "Western Electric (4 rules)"
    assert_audited(sample_warehouse, png, name, "signals", "CHI/imr", "t.manager.chi")


@pytest.mark.requirement("URS-EXP-001", "URS-EXP-002", "URS-EXP-004")
def test_signals_drift_xlsx_and_pdf(make_client, sample_warehouse):
    client = make_client("t.leader")
    states = {ids.SIG_SITE: "CHI", ids.SIG_SENSOR: "CHI-B1-T"}
    content, name = fetch(client, "signals", "drift", "xlsx", states=states)
    prov, rows, title = read_xlsx(content)
    assert title == "Sensor drift (EWMA and CUSUM)"
    assert prov["Sensor"].startswith("CHI-B1-T · temperature · ")
    assert "against the baseline" in prov["Window"] and "(CHI)" in prov["Site"]
    result = sensor_drift.analyse(sample_warehouse, scope_of(sample_warehouse, "t.leader").for_site("CHI"))
    chart = result.charts["CHI-B1-T"].frame
    assert len(rows) == len(chart) > 30
    assert list(rows["day"]) == [f"{d:%Y-%m-%d}" for d in chart.index]  # UTC calendar days, as dates
    assert rows["value"].tolist() == pytest.approx(chart["value"].tolist())
    assert rows["warning"].tolist() == chart["warning"].tolist()
    assert set(rows["sensor_id"]) == {"CHI-B1-T"}
    assert_audited(sample_warehouse, content, name, "signals", "CHI/drift", "t.leader")

    pdf, name = fetch(client, "signals", "drift", "pdf", states=states)
    meta, text = pdf_provenance(pdf)
    assert meta["Sensor"].startswith("CHI-B1-T") and "Exported by t.leader (t.leader)" in text
    assert_audited(sample_warehouse, pdf, name, "signals", "CHI/drift", "t.leader")


# --- /comparability ----------------------------------------------------------------------------------
@pytest.mark.requirement("URS-EXP-002", "URS-EXP-004", "URS-EXP-005")
def test_comparability_tost_csv_for_a_site_manager_holds_only_their_site(make_client, sample_warehouse):
    client = make_client("t.manager.chi")
    states = {ids.CMP_PRODUCT: "CD19 CAR-T"}
    content, name = fetch(client, "comparability", "tost", "csv", days=180, states=states)
    assert name.startswith("atmp_comparability_network_tost_")
    prov, rows = read_csv(content)
    assert prov["Product"] == ["CD19 CAR-T"] and prov["Reference"] == ["Other sites (pooled)"]
    assert prov["Sites"] == ["CHI"] and prov["KPI consistency"][0] == "Cross-site consistency score"
    expected = cmp.comparability(sample_warehouse, scope_of(sample_warehouse, "t.manager.chi", 180), "CD19 CAR-T",
                                 min_batches=MIN_BATCHES).tost
    assert len(rows) == len(expected) > 0 and set(rows["site_id"]) == {"CHI"}
    assert list(rows["cqa"]) == list(expected["cqa"]) and list(rows["verdict"]) == list(expected["verdict"])
    assert rows["difference"].tolist() == pytest.approx(expected["difference"].astype(float).tolist(), nan_ok=True)
    for other in ("ATL", "BOS", "DEN", "SEA"):
        assert f",{other}," not in content.decode("utf-8-sig")
    assert_audited(sample_warehouse, content, name, "comparability", "network/tost", "t.manager.chi")


@pytest.mark.requirement("URS-EXP-001", "URS-EXP-002")
def test_comparability_ppk_xlsx(make_client, sample_warehouse):
    content, name = fetch(make_client("t.auditor"), "comparability", "ppk", "xlsx", days=365,
                          states={ids.CMP_PRODUCT: "BCMA CAR-T"})
    prov, rows, _ = read_xlsx(content)
    assert prov["Product"] == "BCMA CAR-T" and prov["Reference"] == "Network (all sites)"
    assert prov["Window"] == "batches started in the last 365 days"
    expected = cmp.comparability(sample_warehouse, scope_of(sample_warehouse, "t.auditor", 365), "BCMA CAR-T",
                                 min_batches=MIN_BATCHES).capability
    assert len(rows) == len(expected) > 0
    assert list(rows["site_id"]) == [s.replace("__network__", "NETWORK") for s in expected["site_id"]]
    assert list(rows["cqa"]) == list(expected["cqa"]) and list(rows["status"]) == list(expected["status"])
    assert rows["ppk"].astype(float).tolist() == pytest.approx(expected["ppk"].astype(float).tolist(), nan_ok=True)
    assert_audited(sample_warehouse, content, name, "comparability", "network/ppk", "t.auditor")


@pytest.mark.requirement("URS-EXP-001", "URS-EXP-002", "URS-EXP-004")
def test_comparability_funnel_csv_and_png(make_client, sample_warehouse):
    client = make_client("t.leader")
    content, name = fetch(client, "comparability", "funnel", "csv", states={ids.CMP_PRODUCT: "CD19 CAR-T"})
    prov, rows = read_csv(content)
    assert prov["Products"] == ["all products"] and prov["KPI deviation_rate"][0] == "Deviation rate"
    funnel, _, rate = cmp.deviation_funnel(sample_warehouse, scope_of(sample_warehouse, "t.leader"))
    assert rate is not None and list(rows["site_id"]) == list(funnel["site_id"]) and len(rows) >= 9
    assert rows["rate"].tolist() == pytest.approx(funnel["rate"].tolist())
    assert list(rows["position"]) == list(funnel["position"])
    assert rows["batches"].dtype.kind == "i" and rows["batches"].tolist() == funnel["batches"].astype(int).tolist()
    assert_audited(sample_warehouse, content, name, "comparability", "network/funnel", "t.leader")

    png, name = fetch(client, "comparability", "funnel", "png", states={ids.CMP_PRODUCT: "CD19 CAR-T"})
    assert png_provenance(png)["Title"] == "Deviation rate funnel plot"
    assert_audited(sample_warehouse, png, name, "comparability", "network/funnel", "t.leader")


# --- /monitoring/<site_id> ---------------------------------------------------------------------------
@pytest.mark.requirement("URS-EXP-001", "URS-EXP-002", "URS-EXP-004", "URS-EXP-008")
def test_monitoring_trend_csv_and_pdf(make_client, sample_warehouse):
    client = make_client("t.manager.chi")
    states = {ids.MON_SITE_ID: "CHI", ids.MON_TREND_SENSOR: "CHI-B1-T", ids.MON_TREND_WINDOW: "7d"}
    content, name = fetch(client, "monitoring_site", "trend", "csv", states=states)
    assert name.startswith("atmp_monitoring_site_CHI_trend_")
    prov, rows = read_csv(content)
    assert prov["Sensor"][0].startswith("CHI-B1-T · ") and prov["Window"][0].startswith("last 7d")
    assert prov["Time window"] == ["2026-05-25 00:00 to 2026-06-01 00:00 UTC"]
    site_scope = scope_of(sample_warehouse, "t.manager.chi").for_site("CHI")
    points, grain = monitoring.trend(sample_warehouse, site_scope, "CHI-B1-T", TEST_END - timedelta(days=7), TEST_END)
    assert grain == "hour" and len(rows) == len(points) > 100
    assert prov["Rows"] == [f"{len(points)} rollup buckets of CHI-B1-T ({len(points)} hour)"]
    # times in the site's zone with their offset; the same instants as the query's UTC buckets
    assert rows["bucket"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[56]:00").all()
    assert [utc(b) for b in rows["bucket"]] == [pd.Timestamp(b) for b in points["bucket"]]
    assert rows["value_mean"].tolist() == pytest.approx(points["value_mean"].astype(float).tolist())
    assert set(rows["sensor_id"]) == {"CHI-B1-T"}
    assert_audited(sample_warehouse, content, name, "monitoring_site", "CHI/trend", "t.manager.chi")

    pdf, name = fetch(client, "monitoring_site", "trend", "pdf", states=states)
    meta, text = pdf_provenance(pdf)
    assert meta["Sensor"].startswith("CHI-B1-T") and "Exported by t.manager.chi" in text
    assert_audited(sample_warehouse, pdf, name, "monitoring_site", "CHI/trend", "t.manager.chi")


@pytest.fixture(scope="module")
def excursion_app(sample_warehouse, tmp_path_factory):
    """The sample network plus excursions in the page's 30 days (a copy: the shared warehouse has none
    that recent): an open and a closed one at CHI, an open one at ATL."""
    def add_excursions(wh):
        rows = [("EXC-T-CHI-1", "CHI-B1-T", "CHI-B1", "CHI", "temperature", "action", TEST_END - timedelta(days=2), None),
                ("EXC-T-CHI-2", "CHI-B1-T", "CHI-B1", "CHI", "temperature", "alert", TEST_END - timedelta(days=12),
                 TEST_END - timedelta(days=11)),
                ("EXC-T-ATL-1", "ATL-B1-T", "ATL-B1", "ATL", "temperature", "action", TEST_END - timedelta(days=1), None)]
        frame = pd.DataFrame([{"excursion_id": x, "sensor_id": s, "room_id": r, "site_id": site, "parameter": p,
                               "level": lv, "started_at": start, "detected_at": start + timedelta(minutes=5),
                               "ended_at": end, "peak": 23.4} for x, s, r, site, p, lv, start, end in rows])
        with wh.transaction() as conn:
            wh.bulk_insert(conn, "excursions", frame)

    with copied_app(sample_warehouse, tmp_path_factory.mktemp("excursions"), add_excursions) as (app, wh):
        yield app, wh


@pytest.mark.requirement("URS-EXP-001")
def test_monitoring_excursion_history_csv_and_xlsx(excursion_app):
    app, wh = excursion_app
    client = app.server.test_client()
    login(client, "t.manager.chi")
    states = {ids.MON_SITE_ID: "CHI"}
    content, name = fetch(client, "monitoring_site", "excursions", "csv", states=states)
    prov, rows = read_csv(content)
    assert prov["Window"] == ["excursions open at any time in the last 30 days, and every open one"]
    assert prov["Time window"] == ["2026-05-02 00:00 to 2026-06-01 00:00 UTC"]
    expected = monitoring.excursions(wh, scope_of(wh, "t.manager.chi").for_site("CHI"), TEST_END)
    assert list(rows["excursion_id"]) == list(expected["excursion_id"]) == ["EXC-T-CHI-1", "EXC-T-CHI-2"]
    assert list(rows["level"]) == ["action", "alert"] and set(rows["site_id"]) == {"CHI"}
    assert "EXC-T-ATL" not in content.decode("utf-8-sig")
    assert prov["Rows"] == ["2 excursions at CHI, open ones first"]
    assert_audited(wh, content, name, "monitoring_site", "CHI/excursions", "t.manager.chi")

    xlsx, name = fetch(client, "monitoring_site", "excursions", "xlsx", states=states)
    prov, rows, title = read_xlsx(xlsx)
    assert title == "Excursion history" and prov["Exported by"] == "t.manager.chi (t.manager.chi, site_manager)"
    assert list(rows["excursion_id"]) == ["EXC-T-CHI-1", "EXC-T-CHI-2"]
    assert [utc(t) for t in rows["started_at"]] == [TEST_END - timedelta(days=2), TEST_END - timedelta(days=12)]
    assert_audited(wh, xlsx, name, "monitoring_site", "CHI/excursions", "t.manager.chi")

    before = len(export_entries(wh))
    assert_refused(export_call(client, "monitoring_site", "excursions", "csv", states={ids.MON_SITE_ID: "ATL"}),
                   "not found")
    assert len(export_entries(wh)) == before  # a refusal exports and audits nothing


# --- refusals ----------------------------------------------------------------------------------------
SIG_CHI = {ids.SIG_SITE: "CHI", **IMR}
TREND_CHI = {ids.MON_SITE_ID: "CHI", ids.MON_TREND_SENSOR: "CHI-B1-T", ids.MON_TREND_WINDOW: "24h"}


@pytest.mark.parametrize(("user", "page", "item", "fmt", "states", "status"), [
    # a site manager asking for another site, or for another site's sensor on their own site
    ("t.manager.chi", "signals", "imr", "csv", {**SIG_CHI, ids.SIG_SITE: "ATL"}, "not found"),
    ("t.manager.chi", "signals", "drift", "csv", {ids.SIG_SITE: "ATL", ids.SIG_SENSOR: "ATL-B1-T"}, "not found"),
    ("t.manager.chi", "signals", "drift", "csv", {ids.SIG_SITE: "CHI", ids.SIG_SENSOR: "ATL-B1-T"}, "not found"),
    ("t.manager.chi", "monitoring_site", "trend", "csv", {**TREND_CHI, ids.MON_SITE_ID: "ATL"}, "not found"),
    ("t.manager.chi", "monitoring_site", "trend", "csv", {**TREND_CHI, ids.MON_TREND_SENSOR: "ATL-B1-T"},
     "not found"),
    ("t.manager.chi", "signals", "imr", "csv", {**SIG_CHI, ids.SIG_SITE: ["CHI", "ATL"]}, "not found"),
    # forged selections: never a fallback to a default, never another product or CQA
    ("t.leader", "signals", "imr", "csv", {**SIG_CHI, ids.SIG_CQA: "viability_pct; DROP TABLE batches"}, "not found"),
    ("t.leader", "signals", "imr", "csv", {**SIG_CHI, ids.SIG_RULES: "none"}, "not found"),
    ("t.leader", "signals", "imr", "csv", {**SIG_CHI, ids.SIG_PRODUCT: None}, "not found"),
    ("t.leader", "comparability", "tost", "csv", {ids.CMP_PRODUCT: "Unknown product"}, "not found"),
    ("t.leader", "monitoring_site", "trend", "csv", {**TREND_CHI, ids.MON_TREND_WINDOW: "100y"}, "not found"),
    ("t.leader", "comparability", "tost", "png", {ids.CMP_PRODUCT: "CD19 CAR-T"}, "not found"),  # a table: no image
    # the display role (it may open /monitoring/<site>, never export) and roles without the pages
    ("t.display", "monitoring_site", "trend", "csv", TREND_CHI, 403),
    ("t.display", "monitoring_site", "excursions", "xlsx", {ids.MON_SITE_ID: "CHI"}, 403),
    ("t.display", "signals", "imr", "png", SIG_CHI, 403),
    ("t.display", "comparability", "funnel", "csv", {ids.CMP_PRODUCT: "CD19 CAR-T"}, 403),
    ("t.admin", "signals", "drift", "csv", {ids.SIG_SITE: "CHI", ids.SIG_SENSOR: "CHI-B1-T"}, 403),
    ("t.admin", "comparability", "ppk", "csv", {ids.CMP_PRODUCT: "CD19 CAR-T"}, 403),
    ("t.admin", "monitoring_site", "trend", "csv", TREND_CHI, 403),
])
@pytest.mark.requirement("URS-EXP-005", "URS-EXP-004")
def test_exports_are_refused_outside_the_users_choices(make_client, sample_warehouse, user, page, item, fmt, states,
                                                       status):
    before = len(export_entries(sample_warehouse))
    assert_refused(export_call(make_client(user), page, item, fmt, states=states, formats=(fmt,)), status)
    assert len(export_entries(sample_warehouse)) == before


# --- in the browser ----------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.requirement("URS-EXP-001")
def test_signals_export_menu_downloads_the_control_chart_csv(page: Page, live_url, output_dir, console_errors):
    """A site manager changes the run rules on /signals and takes the chart's data from its export menu:
    the file follows the page's selections and the user's own site."""
    sign_in(page, live_url, "t.manager.chi")
    expect(page.locator("#whoami")).to_be_visible(timeout=15000)
    page.goto(f"{live_url}/signals")
    expect(page.locator("#signals-imr .main-svg").first).to_be_visible(timeout=30000)
    page.get_by_label("Western Electric (4 rules)").check()
    expect(page.locator("#signals-imr-summary")).to_contain_text("Western Electric", timeout=30000)
    with page.expect_download(timeout=60000) as download:
        page.get_by_role("button", name="Export control chart").click()
        page.screenshot(path=str(output_dir / "signals-export-menu.png"))
        page.get_by_text("CSV data of I-MR control chart").click()
    assert re.fullmatch(r"atmp_signals_CHI_imr_\d{8}T\d{6}Z\.csv", download.value.suggested_filename)
    path = output_dir / "signals-CHI-imr.csv"
    download.value.save_as(path)
    prov, rows = read_csv(path.read_bytes())
    assert prov["Run rules"] == ["Western Electric (4 rules)"] and "(CHI)" in prov["Site"][0]
    assert prov["Exported by"] == ["t.manager.chi (t.manager.chi, site_manager)"]
    assert len(rows) > 0 and set(rows["site_id"]) == {"CHI"}
    expect(page.locator(".export-status").first).to_contain_text("✓ atmp_signals_CHI_imr_")
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors
