"""The whole-page report: the overview or one site's drill-down as one multi-page PDF.

For a site this is the inspection binder: provenance, KPI table (site beside network), every chart,
the open CAPAs, document drift and batches, and the definition of every KPI, each page footed with
who exported it, when, and the export id the audit trail records with the file's SHA-256."""

from __future__ import annotations

import io
import logging
from datetime import datetime

import pandas as pd
from fpdf.fonts import FontFace

from dashboard.components.formatting import (
    CQA_VERDICT_TEXT,
    STATUS,
    format_number,
    is_missing,
    iso_time,
    status_parts,
)
from dashboard.exports import files
from dashboard.exports.pdf import HubPdf
from dashboard.exports.provenance import APP_NAME, Provenance
from dashboard.exports.sources import ITEMS, Export, PageData
from queries.kpi import catalog

logger = logging.getLogger(__name__)

CHART_WIDTH_PX = 1400
NETWORK_ROW = FontFace(emphasis="BOLD", fill_color=(242, 242, 242))
GRID_KPIS_PER_TABLE = 5  # on a landscape A4 page: titles wrap at words, never mid-word
NO_DATA = "no data"


class Binder(HubPdf):
    def __init__(self, prov: Provenance):
        super().__init__(f"{APP_NAME} · {prov.title}")
        self.prov = prov

    def footer_text(self) -> str:
        p = self.prov
        return (f"Exported by {p.user_name} ({p.user_id}) at {p.exported_at:%Y-%m-%d %H:%M:%S} UTC · "
                f"{APP_NAME} {p.app_version} · export {p.export_id} · window {p.window_text} · "
                f"page {self.page_no()} of {{nb}}")

    def table(self, headers: list[str], rows: list[list], widths: tuple[float, ...] | None = None,
              size: float = 8, emphasis: frozenset[int] = frozenset(), width: float | None = None):
        """A table; times in it are written like every exported time (ISO 8601 with the offset, in the
        provenance's zone). Rows whose index is in ``emphasis`` are set in bold (the network row)."""
        texts = [[self.text_safe(_text(v, self.prov.timezone)) for v in values] for values in rows]
        if widths is None:  # by content, so a time or an id is not broken inside (fpdf2 splits what won't fit)
            widths = tuple(_column_weight(h, [r[i] for r in texts if i < len(r)]) for i, h in enumerate(headers))
        self.grid(headers, texts, widths, size=size, line_height=4.2, marked=emphasis, mark=NETWORK_ROW, width=width,
                  align="LEFT")

    def rows_note(self, built: Export):
        """What the section's rows are, when the item states it (the same lines as its own export)."""
        if built.filters:
            self.para(" · ".join(f"{label}: {text}" for label, text in built.filters.items()), size=8)

    def chart(self, fig):
        fig = fig.__class__(fig)
        fig.update_layout(width=CHART_WIDTH_PX)
        png = files.to_image(fig, "png", scale=1.5)
        ratio = (fig.layout.height or 450) / CHART_WIDTH_PX
        width = self.w - self.l_margin - self.r_margin
        if self.get_y() + width * ratio > self.h - 22:
            self.add_page()
        self.image(io.BytesIO(png), w=width)
        self.ln(3)


def _text(v, timezone: str = "UTC") -> str:
    if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and v != v):
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, pd.Timestamp | datetime):
        return iso_time(v, timezone, timespec="minutes")
    return str(v)


def _column_weight(header: str, cells: list[str]) -> float:
    """A column's share of the table: its longest header word or its longest cell (capped: long text wraps)."""
    longest_word = max((len(w) for w in header.split()), default=1)
    return max(longest_word, min(max((len(c) for c in cells), default=1), 40), 4) + 2


def _count(v) -> str:
    """A count as an integer ('90', '311,040'), never '90.00'."""
    return "–" if is_missing(v) or v is pd.NA else f"{int(round(float(v))):,}"


def _kpi_value(kpi: catalog.Kpi, value, note: str = "") -> str:
    """A KPI value as the pages print it: the KPI's decimals, 'no data' in words, suppression named."""
    if note:
        return note
    return NO_DATA if is_missing(value) else format_number(kpi, value)


def _status_legend() -> str:
    return ("Status symbols (the table prints no colour), read on the value as printed: "
            + " · ".join(f"{STATUS[k][0]} {STATUS[k][1].lower()}" for k in ("ok", "near", "off", "no_target"))
            + " (near: within 10 % of the target on the wrong side); \"no data\": nothing to compute in the window.")


def _frame_rows(frame: pd.DataFrame, columns: dict[str, str], limit: int | None = None) -> list[list]:
    shown = frame if limit is None else frame.head(limit)
    return [[row[c] for c in columns] for _, row in shown.iterrows()]


def build_report(pd_: PageData, prov: Provenance) -> bytes:
    """The multi-page PDF of the page, with provenance in the text and in the PDF metadata."""
    pdf = Binder(prov)
    pdf.set_title(prov.title)
    pdf.set_author(f"{prov.user_name} ({prov.user_id})")
    pdf.set_creator(f"{APP_NAME} {prov.app_version}")
    pdf.add_page()
    pdf.h1(prov.title)
    pdf.para("Provenance", size=11)
    pdf.table(["Field", "Value"], [[label, value] for label, value in prov.fields()], widths=(45, 135))
    pdf.para("Every number comes from the KPI catalogue defined at the end of this document. Survey groups "
             "with fewer than 5 respondents are suppressed here as everywhere. The audit trail records this "
             "export with its export id and the SHA-256 of this file.", size=8.5)
    if pd_.page == "site":
        _site_sections(pdf, pd_)
    else:
        _overview_sections(pdf, pd_)
    pdf.add_page()
    pdf.h1("KPI definitions")
    for d in prov.definitions():
        pdf.h2(f"{d['title']} ({d['id']})")
        pdf.table(["", ""], [["Definition", d["definition"]], ["Formula", d["formula"]],
                             ["Time window applies to", d["window"]], ["Unit", d["unit"]],
                             ["Better when", d["better"]], ["Target", d["target"] or "no target"],
                             ["Source", d["source"]]], widths=(45, 135))
    return files.stamp_pdf(bytes(pdf.output()), prov)


def _site_sections(pdf: Binder, pd_: PageData) -> None:
    kpis = ITEMS[("site", "kpis")].build(pd_).frame
    pdf.h2("KPIs: this site beside the network")
    pdf.table(["KPI", "Unit", "This site", "Network", "n", "Target", "Status"],
              [[r.kpi, r.unit, _kpi_value(catalog.get(r.kpi_id), r.site_value, r.note),
                _kpi_value(catalog.get(r.kpi_id), r.network_value), _count(r.n), r.target, r.status]
               for r in kpis.itertuples()], widths=(50, 20, 24, 20, 12, 30, 24))
    pdf.para(_status_legend(), size=8)
    pdf.para(f"Times in the tables below: {pdf.prov.times_text}.", size=8)
    pdf.add_page()
    devs = ITEMS[("site", "deviations")].build(pd_)
    pdf.h2(f"Deviations ({len(devs.frame)} detected in the window)")
    pdf.chart(devs.figure)
    survey = ITEMS[("site", "survey")].build(pd_)
    pdf.h2("Psychological safety by survey wave")
    pdf.rows_note(survey)
    pdf.chart(survey.figure)
    pdf.para("Waves with fewer than 5 respondents are suppressed to protect anonymity.", size=8.5)
    capa_export = ITEMS[("site", "capas")].build(pd_)
    capas = capa_export.frame
    pdf.h2(f"Open CAPAs ({len(capas)})")
    pdf.rows_note(capa_export)
    if capas.empty:
        pdf.para("No open CAPAs.")
    else:
        pdf.table(["CAPA", "Deviation", "Severity", "Opened", "Due", "Days overdue"],
                  _frame_rows(capas, {"capa_id": 0, "deviation_id": 0, "severity": 0, "opened_at": 0,
                                      "due_at": 0, "days_overdue": 0}))
    drift_export = ITEMS[("site", "drift")].build(pd_)
    drift = drift_export.frame
    pdf.h2(f"Master-document drift ({len(drift)} documents behind master)")
    pdf.rows_note(drift_export)
    if drift.empty:
        pdf.para("Every controlled document is at the master version.")
    else:
        pdf.table(["Document", "Title", "Site version", "Master version", "Days behind"],
                  _frame_rows(drift, {"doc_id": 0, "title": 0, "site_version": 0, "master_version": 0,
                                      "days_behind": 0}))
    batches = ITEMS[("site", "batches")].build(pd_).frame
    pdf.h2(f"Batches started in the window ({len(batches)}; newest 40 shown, all in the CSV export)")
    pdf.table(["Batch", "Product", "Started", "Status", "Viability %", "Transduction %", "CQAs"],
              [[r.batch_id, r.product, r.started_at, r.status, r.viability_pct, r.transduction_pct,
                CQA_VERDICT_TEXT[r.cqa_verdict]] for r in batches.head(40).itertuples()])


def _overview_sections(pdf: Binder, pd_: PageData) -> None:
    kpis = ITEMS[("overview", "kpis")].build(pd_).frame
    network = kpis[kpis.site_id == "NETWORK"]
    pdf.h2("Network KPIs")
    pdf.table(["KPI", "Unit", "Network", "n", "Target", "Status"],
              [[r.kpi, r.unit, _kpi_value(catalog.get(r.kpi_id), r.value, r.note), _count(r.n), r.target,
                r.status] for r in network.itertuples()],
              widths=(60, 24, 22, 18, 32, 24))
    pdf.add_page()
    headline = ITEMS[("overview", "headline")].build(pd_)
    pdf.h2("Headline KPIs by site")
    pdf.chart(headline.figure)
    site_kpi_table(pdf, kpis, pd_.sites)


def site_kpi_table(pdf: Binder, kpis: pd.DataFrame, sites: pd.DataFrame) -> None:
    """The overview's site x KPI grid as a document: the network row first, then each site; a column per
    catalogue KPI headed by its title and unit, a few per landscape page; each cell the value as the grid
    prints it with its status symbol, "no data" or "suppressed" in words."""
    pdf.add_page(orientation="landscape")
    pdf.h2("Site × KPI table")
    pdf.para(f"Window {pdf.prov.window_text}. " + _status_legend() + " The network row is the sum of numerators "
             "over the sum of denominators, never an average of the site rows.", size=8)
    cells = {(r.site_id, r.kpi_id): r for r in kpis.itertuples(index=False)}
    names = dict(zip(sites["site_id"], sites["name"], strict=True))
    rows = [("NETWORK", "Network")] + [(s, f"{s} · {names[s].split(' - ')[0]}") for s in sites["site_id"]]
    for start in range(0, len(catalog.CATALOG), GRID_KPIS_PER_TABLE):
        chunk = catalog.CATALOG[start:start + GRID_KPIS_PER_TABLE]
        if start and pdf.get_y() > pdf.h - 25 - 6 * (len(rows) + 3):
            pdf.add_page(orientation="landscape")
        pdf.table(["Site", *(f"{k.title} ({k.unit})" for k in chunk)],
                  [[label, *(_grid_cell(k, cells.get((site_id, k.id))) for k in chunk)] for site_id, label in rows],
                  widths=(47, *([44] * len(chunk))), width=47 + 44 * len(chunk), size=7.5,
                  emphasis=frozenset({0}))


def _grid_cell(kpi: catalog.Kpi, row) -> str:
    if row is None:
        return NO_DATA
    if row.note:
        return "suppressed"
    if is_missing(row.value):
        return NO_DATA
    symbol, _, _ = status_parts(kpi, row.value)
    return f"{symbol} {format_number(kpi, row.value)}"
