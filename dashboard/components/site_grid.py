"""The site x KPI grid: one row per visible site plus the network, each cell value + status symbol.

Built here as one escaped HTML string that assets/grid.js writes into its host element, outside Dash's
component tree. As ~600 Dash components (21 sites x 23 KPIs) the grid kept the browser busy for ~1 s
after its data had arrived: Dash's renderer re-selects every component on every store update. Every
text that enters the HTML goes through html.escape; the page's CSP forbids inline scripts besides.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from dashboard.components.formatting import format_number, status_parts
from queries.kpi.catalog import NETWORK, Kpi


def site_grid(frame: pd.DataFrame, sites: pd.DataFrame, kpis: list[Kpi], *, link_sites: bool,
              themes: tuple[tuple[str, tuple[str, ...]], ...] | None = None) -> str:
    """One table of every visible site (and the network) x ``kpis``; with ``themes`` (title, KPI ids),
    one table per theme under its title, so no table is wider than a screen (issue 28: 23 columns were
    2,888 px in a 1,896 px wall)."""
    names = dict(zip(sites["site_id"], sites["name"], strict=True))
    # Plain dicts, not a .loc per cell: at 21 sites x 23 KPIs that alone took ~0.2 s per refresh.
    by_site: dict[str, dict[str, dict]] = {}
    for record in frame.to_dict("records"):
        by_site.setdefault(record["site_id"], {}).setdefault(record["kpi_id"], record)
    if themes is None:
        return _table(kpis, sites, names, by_site, link_sites)
    by_id = {k.id: k for k in kpis}
    parts = []
    for title, ids in themes:
        chosen = [by_id[i] for i in ids if i in by_id]
        if chosen:
            parts.append(f'<h3 class="h6 mt-3 mb-1 site-grid-theme">{escape(title)}</h3>'
                         + _table(chosen, sites, names, by_site, link_sites))
    return "".join(parts)


def _table(kpis: list[Kpi], sites: pd.DataFrame, names: dict, by_site: dict, link_sites: bool) -> str:
    head = "".join(
        f'<th scope="col"><a href="/definitions#kpi-{escape(k.id)}" title="{escape(k.definition)}">'
        f'{escape(k.title)}<br><small class="text-body-secondary">{escape(k.unit)}</small></a></th>' for k in kpis)
    rows = []
    for site_id in [NETWORK] + list(sites["site_id"]):
        cells = by_site.get(site_id, {})
        if site_id == NETWORK:
            if not cells:
                continue
            label, row_class = "<strong>Network</strong>", ' class="network-row"'
        else:
            # Short label for a wide grid: the id and the institution; the full name as a tooltip.
            text, title = escape(f"{site_id} · {names[site_id].split(' - ')[0]}"), escape(names[site_id])
            label = (f'<a href="/site/{escape(site_id)}" title="{title}">{text}</a>' if link_sites
                     else f'<span title="{title}">{text}</span>')
            row_class = ""
        rows.append(f'<tr{row_class}><th scope="row">{label}</th>{"".join(_cell(k, cells) for k in kpis)}</tr>')
    return (f'<div class="table-responsive"><table class="site-grid table table-sm table-hover align-middle">'
            f'<thead><tr><th scope="col">Site</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _cell(kpi: Kpi, cells: dict[str, dict]) -> str:
    if kpi.id not in cells:
        return '<td class="status-none" title="no data in this window">–</td>'
    row = cells[kpi.id]
    if bool(row.get("suppressed", False)):
        return '<td class="status-none" title="fewer than 5 respondents">suppressed</td>'
    value = row["value"]
    symbol, word, css = status_parts(kpi, value)
    # The status symbol is drawn by assets/grid.css from data-symbol (hidden from screen readers like
    # the aria-hidden span elsewhere); the word stays in the title.
    return (f'<td class="{css} grid-cell" title="{escape(word)}" data-symbol="{escape(symbol)}">'
            f'{escape(format_number(kpi, value))}</td>')
