"""Shared controls of the pages."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dashboard.context import WINDOW_CHOICES


def window_selector(component_id: str, value: int) -> html.Div:
    return html.Div([
        html.Label("Time window", htmlFor=component_id, className="me-2 fw-semibold"),
        dbc.RadioItems(id=component_id, value=value, inline=True,
                       options=[{"label": f"{d} days", "value": d} for d in WINDOW_CHOICES],
                       className="d-inline-block"),
    ], className="window-selector")
