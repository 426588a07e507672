"""File writers for exports: CSV and XLSX with a provenance block, and charts as PNG, SVG and PDF.

Charts are rendered on the server by kaleido, driving the system Chromium through one sync server
per process (started on the first export, so processes that never export never start a browser)."""

from __future__ import annotations

import atexit
import csv
import io
import logging
import math
import os
import re
import textwrap
import threading
import warnings
from datetime import date, datetime
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from openpyxl import Workbook
from openpyxl.styles import Font
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfReader, PdfWriter

from dashboard.components.formatting import iso_time
from dashboard.exports.provenance import APP_NAME, Provenance

logger = logging.getLogger(__name__)

MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
}
IMAGE_FORMATS = ("png", "svg", "pdf")
DATA_FORMATS = ("csv", "xlsx")
# A spreadsheet treats a cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_WIDTH_PX = 1400
FOOTER_LINE_PX = 17
FOOTER_WRAP_CHARS = 190  # 11 px type across a 1400 px image

_kaleido_lock = threading.Lock()
_kaleido_started = False


# --- data files -----------------------------------------------------------------------------------
def neutralise(value):
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe.

    Only text is touched: a real number (-3.5) is written as a number and cannot be a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _plain(value, timezone: str = "UTC"):
    """A cell value as a file can hold it: no NaN/NaT; every time as ISO 8601 text with its UTC offset,
    in the provenance's zone (a spreadsheet's date cells cannot hold an offset, so text it is)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime | np.datetime64):  # pd.Timestamp is a datetime
        return iso_time(value, timezone)
    if isinstance(value, date):
        return value.isoformat()  # a calendar date: no time, so no offset
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        return value.item()
    return value


def _csv_cell(value, timezone: str = "UTC") -> str | float | int:
    value = _plain(value, timezone)
    if value is None:
        return ""
    return neutralise(value)


def to_csv(frame: pd.DataFrame, prov: Provenance) -> bytes:
    """UTF-8 CSV (with BOM, for spreadsheets): a '#' provenance block, a blank line, then the data."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"# {APP_NAME} export"])
    for label, value in prov.fields():
        writer.writerow([f"# {label}", neutralise(value)])
    for d in prov.definitions():
        writer.writerow([f"# KPI {d['id']}", neutralise(d["title"]), neutralise(d["definition"]),
                         neutralise(d["formula"]), neutralise(d["source"])])
    writer.writerow([])
    writer.writerow([neutralise(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        writer.writerow([_csv_cell(v, prov.timezone) for v in row])
    return out.getvalue().encode("utf-8-sig")


def _text_cell(cell, value) -> None:
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would store '=...' as a formula; text stays text


def to_xlsx(frame: pd.DataFrame, prov: Provenance, sheet_title: str = "Data") -> bytes:
    """A workbook with the data and a 'Provenance' sheet (fields, then every KPI definition used)."""
    wb = Workbook()
    data = wb.active
    data.title = re.sub(r"[\[\]:*?/\\]", " ", sheet_title).strip()[:31] or "Data"  # Excel's rules
    bold = Font(bold=True)
    for col, name in enumerate(frame.columns, start=1):
        _text_cell(data.cell(row=1, column=col), str(name))
        data.cell(row=1, column=col).font = bold
    for r, row in enumerate(frame.itertuples(index=False, name=None), start=2):
        for c, value in enumerate(row, start=1):
            _text_cell(data.cell(row=r, column=c), _plain(value, prov.timezone))
    data.freeze_panes = "A2"

    sheet = wb.create_sheet("Provenance")
    for r, (label, value) in enumerate(prov.fields(), start=1):
        _text_cell(sheet.cell(row=r, column=1), label)
        sheet.cell(row=r, column=1).font = bold
        _text_cell(sheet.cell(row=r, column=2), value)
    start = len(prov.fields()) + 2
    headers = ["KPI id", "Title", "Definition", "Formula", "Time window applies to", "Unit", "Better when",
               "Target", "Source"]
    for c, h in enumerate(headers, start=1):
        _text_cell(sheet.cell(row=start, column=c), h)
        sheet.cell(row=start, column=c).font = bold
    for r, d in enumerate(prov.definitions(), start=start + 1):
        for c, key in enumerate(("id", "title", "definition", "formula", "window", "unit", "better", "target",
                                 "source"), start=1):
            _text_cell(sheet.cell(row=r, column=c), d[key])
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 80

    props = wb.properties
    props.title = prov.title
    props.creator = f"{prov.user_name} ({prov.user_id})"
    props.subject = "; ".join(f"{k}: {v}" for k, v in prov.filters.items())
    props.description = " | ".join(prov.footer_lines())
    props.keywords = ", ".join(k.id for k in prov.kpis)
    props.identifier = prov.export_id
    props.created = prov.exported_at
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- charts ---------------------------------------------------------------------------------------
class ChartRendererMissing(RuntimeError):
    """No Chromium for kaleido: without this check a chart export waits for a browser forever."""


def _ensure_kaleido() -> None:
    """One kaleido server per process (recipes: never get_chrome_sync, it downloads a browser)."""
    global _kaleido_started
    if _kaleido_started:
        return
    import kaleido
    from choreographer.browsers.chromium import Chromium

    browser = Chromium.find_browser(skip_local=False)
    if not browser or not os.access(browser, os.X_OK):
        raise ChartRendererMissing(
            f"chart images need Chromium on the server and none was found (BROWSER_PATH="
            f"{os.environ.get('BROWSER_PATH', 'unset')}); install Debian's chromium or set BROWSER_PATH")

    kaleido.start_sync_server(silence_warnings=True)
    atexit.register(kaleido.stop_sync_server, silence_warnings=True)
    _kaleido_started = True


def with_footer(fig: go.Figure, prov: Provenance) -> go.Figure:
    """A copy of the figure, taller by a provenance footer printed under the plot."""
    fig = go.Figure(fig)
    lines = [part for line in prov.footer_lines() for part in textwrap.wrap(line, FOOTER_WRAP_CHARS)]
    margin = fig.layout.margin
    # The legend goes above the plot, so the bottom margin holds only the x axis and the footer.
    fig.update_layout(legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
                      margin=dict(t=max(margin.t or 0, 80)))
    margin_b = max(margin.b or 0, 90)
    margin_l = margin.l if margin.l is not None else 80
    margin_r = margin.r if margin.r is not None else 80
    footer_px = FOOTER_LINE_PX * len(lines) + 24
    height = (fig.layout.height or 450) + footer_px
    fig.update_layout(height=height, width=EXPORT_WIDTH_PX, margin=dict(b=margin_b + footer_px),
                      paper_bgcolor="white")
    # x in paper units, moved left onto the figure's edge: the footer spans the whole image width.
    x = -(margin_l - 12) / max(1, EXPORT_WIDTH_PX - margin_l - margin_r)
    fig.add_annotation(text="<br>".join(escape(line) for line in lines), xref="paper", yref="paper", x=x, y=0,
                       xanchor="left", yanchor="top", yshift=-(margin_b + 8), showarrow=False, align="left",
                       font=dict(size=11, color="#333333"))
    return fig


def render_chart(fig: go.Figure, fmt: str, prov: Provenance, *, scale: float = 2.0) -> bytes:
    """The chart with its provenance footer in the image and in the file's metadata."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unknown image format {fmt!r}")
    stamped = with_footer(fig, prov)
    raw = to_image(stamped, fmt, scale=scale if fmt == "png" else 1)
    return {"png": stamp_png, "svg": stamp_svg, "pdf": stamp_pdf}[fmt](raw, prov)


def to_image(fig: go.Figure, fmt: str, *, scale: float = 1.0) -> bytes:
    """Render with the process's kaleido server (one render at a time)."""
    import plotly.io as pio

    width = fig.layout.width or EXPORT_WIDTH_PX
    height = fig.layout.height or 450
    with _kaleido_lock:
        _ensure_kaleido()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The kopts argument")
            return pio.to_image(fig, format=fmt, width=width, height=height, scale=scale)


def stamp_png(png: bytes, prov: Provenance) -> bytes:
    info = PngInfo()
    info.add_itxt("Title", prov.title)
    info.add_itxt("Author", f"{prov.user_name} ({prov.user_id})")
    info.add_itxt("Description", "\n".join(prov.footer_lines()))
    info.add_itxt("Creation Time", f"{prov.exported_at:%Y-%m-%dT%H:%M:%SZ}")
    info.add_itxt("Software", f"{APP_NAME} {prov.app_version}")
    info.add_itxt("Provenance", prov.to_json())
    with Image.open(io.BytesIO(png)) as img:
        out = io.BytesIO()
        img.save(out, format="PNG", pnginfo=info, optimize=False)
    return out.getvalue()


def stamp_svg(svg: bytes, prov: Provenance) -> bytes:
    text = svg.decode("utf-8")
    start = text.find("<svg")
    end = text.find(">", start)
    if start < 0 or end < 0:
        raise ValueError("not an SVG document")
    block = (f"<title>{escape(prov.title)}</title><desc>{escape(' | '.join(prov.footer_lines()))}</desc>"
             f"<metadata><atmp-provenance xmlns=\"urn:atmp-quality-hub:provenance\">{escape(prov.to_json())}"
             f"</atmp-provenance></metadata>")
    return (text[: end + 1] + block + text[end + 1:]).encode("utf-8")


def pdf_metadata(prov: Provenance) -> dict[str, str]:
    return {
        "/Title": prov.title,
        "/Author": f"{prov.user_name} ({prov.user_id})",
        "/Subject": " | ".join(prov.footer_lines()),
        "/Keywords": ", ".join(["ATMP Quality Hub", *(k.id for k in prov.kpis)]),
        "/Creator": f"{APP_NAME} {prov.app_version}",
        "/Producer": f"{APP_NAME} {prov.app_version}",
        "/CreationDate": f"D:{prov.exported_at:%Y%m%d%H%M%S}+00'00'",
        "/ATMPProvenance": prov.to_json(),
    }


def stamp_pdf(pdf: bytes, prov: Provenance) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata(pdf_metadata(prov))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
