"""The site x KPI grid: one row per visible site plus the network, each cell value + status symbol."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from dashboard.components.formatting import STATUS, format_number, is_missing
from queries.catalog import Kpi
from queries.kpis import NETWORK


def site_grid(frame: pd.DataFrame, sites: pd.DataFrame, kpis: list[Kpi], *, link_sites: bool) -> dbc.Table:
    header = html.Thead(html.Tr(
        [html.Th("Site", scope="col")]
        + [html.Th(dcc.Link([k.title, html.Br(), html.Small(k.unit, className="text-body-secondary")],
                            href=f"/definitions#kpi-{k.id}", title=k.definition), scope="col")
           for k in kpis]))
    rows = []
    names = dict(zip(sites["site_id"], sites["name"], strict=True))
    order = [NETWORK] + list(sites["site_id"])
    # Plain dicts, not a .loc per cell: at 21 sites x 23 KPIs that alone took ~0.2 s per refresh.
    by_site: dict[str, dict[str, dict]] = {}
    for record in frame.to_dict("records"):
        by_site.setdefault(record["site_id"], {}).setdefault(record["kpi_id"], record)
    for site_id in order:
        cells = by_site.get(site_id, {})
        if site_id == NETWORK:
            if not cells:
                continue
            label = html.Strong("Network")
        else:
            # Short label for a wide grid: the id and the institution; the full name as a tooltip.
            text = f"{site_id} · {names[site_id].split(' - ')[0]}"
            label = (dcc.Link(text, href=f"/site/{site_id}", title=names[site_id],
                              id={"type": "site-link", "site": site_id})
                     if link_sites else html.Span(text, title=names[site_id]))
        rows.append(html.Tr([html.Th(label, scope="row")] + [_cell(k, cells) for k in kpis],
                            className="network-row" if site_id == NETWORK else None))
    return dbc.Table([header, html.Tbody(rows)], bordered=False, hover=True, responsive=True,
                     className="site-grid align-middle", size="sm")


def _cell(kpi: Kpi, cells: dict[str, dict]) -> html.Td:
    if kpi.id not in cells:
        return html.Td("–", className="status-none", title="no data in this window")
    row = cells[kpi.id]
    if bool(row.get("suppressed", False)):
        return html.Td("suppressed", className="status-none", title="fewer than 5 respondents")
    value = row["value"]
    status = "none" if is_missing(value) else kpi.status(value)
    symbol, word, css = STATUS[status]
    # One component per cell: the status symbol is drawn by assets/grid.css from data-symbol (hidden from
    # screen readers like the aria-hidden span elsewhere); the word stays in the title. At 21 sites the
    # grid has ~500 cells, and three components each made the browser render for over a second.
    return html.Td(format_number(kpi, value), className=f"{css} grid-cell", title=word, **{"data-symbol": symbol})
