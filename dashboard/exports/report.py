"""The whole-page report: the overview or one site's drill-down as one multi-page PDF.

For a site this is the inspection binder: provenance, KPI table (site beside network), every chart,
the open CAPAs, document drift and batches, and the definition of every KPI, each page footed with
who exported it, when, and the export id the audit trail records with the file's SHA-256."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd
from fpdf import FPDF
from fpdf.fonts import FontFace

from dashboard.exports import files
from dashboard.exports.provenance import APP_NAME, Provenance
from dashboard.exports.sources import ITEMS, PageData

logger = logging.getLogger(__name__)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian fonts-dejavu-core (on every machine here)
CHART_WIDTH_PX = 1400
HEAD = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))


class Binder(FPDF):
    def __init__(self, prov: Provenance):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.prov = prov
        self.family = "Helvetica"
        if (FONT_DIR / "DejaVuSans.ttf").is_file():
            self.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
            self.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
            self.family = "DejaVu"
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(15, 18, 15)
        self.alias_nb_pages()

    def text_safe(self, text: str) -> str:
        if self.family == "DejaVu":
            return text
        return text.encode("latin-1", "replace").decode("latin-1")  # core fonts are latin-1 only

    def header(self):
        self.set_font(self.family, "", 8)
        self.set_text_color(80, 80, 80)
        self.cell(0, 5, self.text_safe(f"{APP_NAME} · {self.prov.title}"), align="L")
        self.ln(8)
        self.set_text_color(0, 0, 0)

    def footer(self):
        self.set_y(-14)
        self.set_font(self.family, "", 7)
        self.set_text_color(80, 80, 80)
        p = self.prov
        self.multi_cell(0, 3.5, self.text_safe(
            f"Exported by {p.user_name} ({p.user_id}) at {p.exported_at:%Y-%m-%d %H:%M:%S} UTC · "
            f"{APP_NAME} {p.app_version} · export {p.export_id} · window {p.window_text} · "
            f"page {self.page_no()} of {{nb}}"), align="L")
        self.set_text_color(0, 0, 0)

    def h1(self, text: str):
        self.set_font(self.family, "B", 16)
        self.multi_cell(0, 8, self.text_safe(text), align="L")
        self.ln(2)

    def h2(self, text: str):
        if self.get_y() > self.h - 60:
            self.add_page()
        self.set_font(self.family, "B", 12)
        self.multi_cell(0, 6, self.text_safe(text), align="L")
        self.ln(1)

    def para(self, text: str, size: float = 9.5):
        self.set_font(self.family, "", size)
        self.multi_cell(0, 5, self.text_safe(text), align="L")
        self.ln(1)

    def table(self, headers: list[str], rows: list[list], widths: tuple[float, ...] | None = None,
              size: float = 8):
        self.set_font(self.family, "", size)
        with super().table(col_widths=widths, headings_style=HEAD, line_height=4.2, text_align="LEFT",
                           first_row_as_headings=True) as t:
            head = t.row()
            for h in headers:
                head.cell(self.text_safe(h))
            for values in rows:
                row = t.row()
                for v in values:
                    row.cell(self.text_safe(_text(v)))
        self.ln(3)

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


def _text(v) -> str:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, pd.Timestamp):
        return f"{v:%Y-%m-%d %H:%M}"
    return str(v)


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
    pdf.table(["KPI", "Unit", "This site", "Network", "Target", "Status"],
              [[r.kpi, r.unit, r.note or r.site_value, r.network_value, r.target, r.status]
               for r in kpis.itertuples()], widths=(52, 22, 26, 22, 30, 28))
    pdf.add_page()
    devs = ITEMS[("site", "deviations")].build(pd_)
    pdf.h2(f"Deviations ({len(devs.frame)} detected in the window)")
    pdf.chart(devs.figure)
    survey = ITEMS[("site", "survey")].build(pd_)
    pdf.h2("Psychological safety by survey wave")
    pdf.chart(survey.figure)
    pdf.para("Waves with fewer than 5 respondents are suppressed to protect anonymity.", size=8.5)
    capas = ITEMS[("site", "capas")].build(pd_).frame
    pdf.h2(f"Open CAPAs ({len(capas)})")
    if capas.empty:
        pdf.para("No open CAPAs.")
    else:
        pdf.table(["CAPA", "Deviation", "Severity", "Opened (UTC)", "Due (UTC)", "Days overdue"],
                  _frame_rows(capas, {"capa_id": 0, "deviation_id": 0, "severity": 0, "opened_at": 0,
                                      "due_at": 0, "days_overdue": 0}))
    drift = ITEMS[("site", "drift")].build(pd_).frame
    pdf.h2(f"Master-document drift ({len(drift)} documents behind master)")
    if drift.empty:
        pdf.para("Every controlled document is at the master version.")
    else:
        pdf.table(["Document", "Title", "Site version", "Master version", "Days behind"],
                  _frame_rows(drift, {"doc_id": 0, "title": 0, "site_version": 0, "master_version": 0,
                                      "days_behind": 0}))
    batches = ITEMS[("site", "batches")].build(pd_).frame
    pdf.h2(f"Batches started in the window ({len(batches)}; newest 40 shown, all in the CSV export)")
    pdf.table(["Batch", "Product", "Started (UTC)", "Status", "Viability %", "Transduction %", "CQAs"],
              [[r.batch_id, r.product, r.started_at, r.status, r.viability_pct, r.transduction_pct,
                "✕ OOS" if r.oos else "✓ within spec"] for r in batches.head(40).itertuples()])


def _overview_sections(pdf: Binder, pd_: PageData) -> None:
    kpis = ITEMS[("overview", "kpis")].build(pd_).frame
    network = kpis[kpis.site_id == "NETWORK"]
    pdf.h2("Network KPIs")
    pdf.table(["KPI", "Unit", "Network", "n", "Target", "Status"],
              [[r.kpi, r.unit, r.note or r.value, r.n, r.target, r.status] for r in network.itertuples()],
              widths=(60, 24, 26, 18, 30, 22))
    pdf.add_page()
    headline = ITEMS[("overview", "headline")].build(pd_)
    pdf.h2("Headline KPIs by site")
    pdf.chart(headline.figure)
    pdf.h2("Site × KPI table")
    wide = kpis[kpis.site_id != "NETWORK"].pivot_table(index="site_id", columns="kpi_id", values="status",
                                                       aggfunc="first")
    values = kpis[kpis.site_id != "NETWORK"].pivot_table(index="site_id", columns="kpi_id", values="value",
                                                         aggfunc="first", dropna=False)
    for chunk in (list(wide.columns[i:i + 5]) for i in range(0, len(wide.columns), 5)):
        pdf.table(["Site", *chunk],
                  [[site, *[_cell(values, wide, site, k) for k in chunk]] for site in wide.index])


def _cell(values: pd.DataFrame, status: pd.DataFrame, site: str, kpi: str) -> str:
    symbol = str(status.at[site, kpi]).split(" ")[0] if kpi in status.columns else "–"
    value = values.at[site, kpi] if kpi in values.columns and site in values.index else None
    return f"{symbol} {_text(value)}"
