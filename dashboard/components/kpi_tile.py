"""The KPI tile: value, unit, status (symbol + word + colour), trend, target, link to its definition."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.components.formatting import format_target, format_value, is_missing, status_parts, trend_text
from queries.kpi.catalog import Kpi


def kpi_tile(kpi: Kpi, value, previous, *, days: int, n=None, detail: str | None = None,
             suppressed: bool = False, href: str | None = None) -> dbc.Card:
    symbol, word, css = status_parts(kpi, value, suppressed=suppressed)
    trend, trend_css = trend_text(kpi, value, previous, days)
    shown = "suppressed" if suppressed else format_value(kpi, value)
    body = [
        html.Div(dcc.Link(kpi.title, href=href or f"/definitions#kpi-{kpi.id}", className="tile-title",
                          title=kpi.definition)),
        html.Div(shown, className="tile-value", **{"aria-label": f"{kpi.title}: {shown}"}),
        html.Div([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}), f" {word}"],
                 className=f"tile-status {css}"),
        html.Div(trend, className=f"tile-trend {trend_css}"),
        html.Div([format_target(kpi), f" · n = {int(n):,}" if not is_missing(n) else ""],
                 className="tile-target"),
    ]
    if detail:
        body.append(html.Div(detail, className="tile-detail"))
    return dbc.Card(dbc.CardBody(body), id=ids.kpi_tile(kpi.id), className=f"kpi-tile h-100 {css}-border")
