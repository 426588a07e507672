"""Small table helpers shared by the signals and comparability pages."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

# Verdicts and statuses: symbol + word + CSS colour class (never colour alone).
VERDICT = {
    "equivalent": ("✓", "equivalent", "status-ok"),
    "not equivalent": ("✕", "not equivalent", "status-off"),
    "insufficient data": ("–", "insufficient data", "status-none"),
    "capable": ("✓", "capable", "status-ok"),
    "marginal": ("!", "marginal", "status-near"),
    "not capable": ("✕", "not capable", "status-off"),
    "warning": ("▲", "warning", "status-off"),
    "in control": ("✓", "in control", "status-ok"),
    "no baseline": ("–", "no baseline", "status-none"),
    "enhanced": ("▲", "enhanced oversight", "status-off"),
    "routine": ("●", "routine oversight", "status-ok"),
}


def badge(key: str) -> html.Span:
    symbol, word, css = VERDICT.get(key, ("–", key, "status-none"))
    return html.Span([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}), f" {word}"],
                     className=f"{css} fw-semibold")


def table(frame: pd.DataFrame, columns: dict[str, str], table_id: str, empty: str, *,
          cell=None, max_rows: int | None = None, compact: bool = False) -> html.Div:
    """A bootstrap table of ``columns`` (column -> header); ``cell(column, value, row)`` may render a cell."""
    if frame.empty:
        return html.P(empty, className="text-body-secondary", id=table_id)
    shown = frame.head(max_rows) if max_rows else frame
    head = html.Thead(html.Tr([html.Th(label, scope="col") for label in columns.values()]))
    body = html.Tbody([
        html.Tr([html.Td(cell(c, row[c], row) if cell else row[c]) for c in columns]) for _, row in shown.iterrows()
    ])
    note = None
    if max_rows and len(frame) > max_rows:
        note = html.P(f"Showing {max_rows} of {len(frame)} rows.", className="small text-body-secondary")
    css = "align-middle w-auto" if compact else "align-middle"
    return html.Div([dbc.Table([head, body], size="sm", hover=True, responsive=True, className=css, id=table_id),
                     note])
