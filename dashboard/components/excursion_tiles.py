"""Live excursion tiles: one card per open excursion (level, site, room, parameter, age), ticking.

`section()` is what a page places; the tick callback lives in dashboard/pages/monitoring.py (page
modules are re-executed for every app, so their callbacks register with each app; a component's
would register once per process).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from dash import dcc, html

from dashboard import ids
from dashboard.components.formatting import format_reading
from dashboard.components.record_links import record_href
from queries.analyses.monitoring import PARAMETER_LABELS

# Level -> (symbol, word, css): never colour alone.
LEVEL_STYLE = {
    "action": ("✕", "Action", "status-off"),
    "alert": ("!", "Alert", "status-near"),
}


def format_age(seconds: float) -> str:
    """'45 s', '3 min 12 s', '2 h 05 min', '3 d 4 h'."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def level_badge(level: str) -> html.Span:
    symbol, word, css = LEVEL_STYLE.get(level, ("–", level, "status-none"))
    return html.Span([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}), f" {word}"],
                     className=f"level-badge {css}")


def section(refresh_s: int) -> html.Section:
    return html.Section([
        html.Div([
            html.H2("Open excursions (live)", className="h5 mb-0"),
            html.Span(id=ids.OV_EXC_AS_OF, className="as-of text-body-secondary small"),
        ], className="d-flex flex-wrap gap-3 align-items-baseline mb-2"),
        html.Div(id=ids.OV_EXC_TILES, className="excursion-tiles", **{"aria-live": "polite"}),
        dcc.Interval(id=ids.OV_EXC_TICK, interval=max(1, refresh_s) * 1000),
    ], className="mb-4", **{"aria-label": "Open excursions across the network"})


def tiles(frame: pd.DataFrame, now: datetime, *, network_counts: dict[str, int] | None = None,
          link_sites: bool = True, link_records: bool = False) -> list:
    """Cards for open excursions; for a site manager a line counts the other sites' (anonymised).
    ``link_records``: each card links to its excursion record (roles that may open records)."""
    cards = []
    for row in frame.itertuples(index=False):
        age = format_age((pd.Timestamp(now) - pd.Timestamp(row.started_at)).total_seconds())
        symbol, word, css = LEVEL_STYLE.get(row.level, ("–", row.level, "status-none"))
        room = html.Span(f"{row.room_name} ({row.room_id})")
        where = [html.Strong(row.site_id), " · ", room]
        body = [
            html.Div(level_badge(row.level), className="tile-status"),
            html.Div(PARAMETER_LABELS.get(row.parameter, row.parameter), className="tile-title"),
            html.Div(where, className="tile-where"),
            html.Div(["open for ", html.Strong(age, className="excursion-age")], className="tile-age"),
            html.Div(f"peak {format_reading(row.peak, row.parameter, row.unit)} · since {pd.Timestamp(row.started_at):%Y-%m-%d %H:%M} UTC"
                     + ("" if _missing(row.acknowledged_at) else " · acknowledged"), className="tile-detail"),
        ]
        links = []
        if link_sites:
            links.append(dcc.Link("Monitoring →", href=f"/monitoring/{row.site_id}", className="small me-3"))
        if link_records:
            links.append(dcc.Link("Record →", href=record_href("excursion", row.excursion_id), className="small"))
        if links:
            body.append(html.Div(links))
        # A plain article with Bootstrap's card classes: dbc.Card takes no aria attributes.
        cards.append(html.Article(html.Div(body, className="card-body"), id=ids.excursion_tile(row.excursion_id),
                                  className=f"card excursion-tile {css}-border",
                                  **{"aria-label": f"{word} excursion at {row.site_id}, {row.room_name}"}))
    if not cards:
        cards.append(html.P([html.Span("✓", className="status-symbol status-ok", **{"aria-hidden": "true"}),
                             " No open excursions in your sites."], className="no-excursions mb-0"))
    if network_counts is not None:
        total = sum(network_counts.values())
        others = total - len(frame)
        if others > 0:
            cards.append(html.P(f"{others} open excursion{'s' if others != 1 else ''} at other sites "
                                "(network aggregate).", className="small text-body-secondary mb-0"))
    return cards


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)
