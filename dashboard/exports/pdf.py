"""The hub's PDF page: A4, DejaVu Sans where the machine has it (else the latin-1 core font), a grey running
title on top, a grey footer line each document words itself, headings and paragraphs set the same way. The
inspection binder (report.py) and the validation report (validation/report.py) are both made on it."""

from __future__ import annotations

import logging
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

logging.getLogger("fontTools").setLevel(logging.WARNING)  # its font subsetting logs every glyph at INFO
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian fonts-dejavu-core (on every machine here)
HEAD = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))  # the column headings of every table


class HubPdf(FPDF):
    def __init__(self, running_title: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.running_title = running_title
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

    def footer_text(self) -> str:
        """The document's own footer line ({nb} is the page count)."""
        return f"page {self.page_no()} of {{nb}}"

    def header(self):
        self.set_font(self.family, "", 8)
        self.set_text_color(80, 80, 80)
        self.cell(0, 5, self.text_safe(self.running_title), align="L")
        self.ln(8)
        self.set_text_color(0, 0, 0)

    def footer(self):
        self.set_y(-14)
        self.set_font(self.family, "", 7)
        self.set_text_color(80, 80, 80)
        self.multi_cell(0, 3.5, self.text_safe(self.footer_text()), align="L")
        self.set_text_color(0, 0, 0)

    def h1(self, text: str):
        self.set_font(self.family, "B", 16)
        self.multi_cell(0, 8, self.text_safe(text), align="L")
        self.ln(2)

    def h2(self, text: str):
        if self.get_y() > self.h - 60:  # a heading never ends a page
            self.add_page()
        self.set_font(self.family, "B", 12)
        self.multi_cell(0, 6, self.text_safe(text), align="L")
        self.ln(1)

    def para(self, text: str, size: float = 9.5):
        self.set_font(self.family, "", size)
        self.multi_cell(0, 5, self.text_safe(text), align="L")
        self.ln(1)

    def grid(self, headers: list[str] | None, rows: list[list], widths: tuple[float, ...], *, size: float,
             line_height: float, marked: frozenset[int] = frozenset(), mark: FontFace | None = None,
             **layout) -> None:
        """A table of text: the headings (if any), then the rows, those whose index is in ``marked`` set in
        ``mark``'s style. FPDF.table itself: the documents' own ``table`` methods call this one."""
        self.set_font(self.family, "", size)
        with FPDF.table(self, col_widths=widths, headings_style=HEAD, line_height=line_height, text_align="LEFT",
                        first_row_as_headings=headers is not None, **layout) as t:
            if headers is not None:
                head = t.row()
                for h in headers:
                    head.cell(self.text_safe(h))
            for i, values in enumerate(rows):
                row = t.row(style=mark if i in marked else None)
                for value in values:
                    row.cell(self.text_safe(str(value)))
        self.ln(3)
