"""Kiosk slides: the playlist named in the URL and the wall-display rendering of each slide.

Slides show aggregates only: no person's name, operator or signature appears on a wall display."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd
from dash import html

from dashboard import context
from dashboard.components.formatting import (
    format_number,
    format_target,
    format_value,
    is_missing,
    status_parts,
)
from queries.engine.scope import Scope
from queries.kpi import catalog
from queries.kpi.catalog import NETWORK

logger = logging.getLogger(__name__)

DEFAULT_PAGES = ("overview", "excursions")
KIOSK_EXCURSION_TILES = 4  # open excursions shown as tiles on the wall (action first, longest open): one row
MAX_SLIDES = 12
SITE_KPIS = ("closure_time", "capa_on_time", "deviation_rate", "right_first_time", "oos_rate", "uptime")


@dataclass(frozen=True)
class Slide:
    kind: str  # overview, excursions, site
    site_id: str | None = None

    @property
    def key(self) -> str:
        return f"site:{self.site_id}" if self.kind == "site" else self.kind


UNKNOWN_PAGE = "unknown page"
NO_SITE = "no such site or not visible to this display"  # one reason for both: never confirm a hidden site
TOO_MANY = f"more than {MAX_SLIDES} slides"


class Playlist(NamedTuple):
    slides: list[Slide]
    ignored: list[tuple[str, str]]  # (entry as written, why it is not shown)
    fallback: bool  # no entry could be shown: the default playlist is shown instead


def read_playlist(pages: str | None, scope: Scope) -> Playlist:
    """The slides named in ?pages=... (known kinds, and sites inside the user's scope; each once; at
    most MAX_SLIDES), and every entry left out with the reason, for the notice on the screen."""
    slides: list[Slide] = []
    ignored: list[tuple[str, str]] = []
    for token in (t.strip() for t in str(pages or ",".join(DEFAULT_PAGES)).split(",")):
        if not token:  # "overview,,excursions" or a trailing comma: nothing to report
            continue
        kind, _, site = token.partition(":")
        if kind == "site":
            slide, reason = (Slide("site", site.upper()) if site.upper() in scope.site_ids else None), NO_SITE
        else:
            slide, reason = (Slide(kind) if kind in SLIDE_RENDERERS and not site else None), UNKNOWN_PAGE
        if slide is None:
            ignored.append((token, reason))
        elif slide in slides:
            continue  # a repeat is shown once
        elif len(slides) >= MAX_SLIDES:
            ignored.append((token, TOO_MANY))
        else:
            slides.append(slide)
    if slides:
        return Playlist(slides, ignored, False)
    return Playlist([Slide(k) for k in DEFAULT_PAGES], ignored, bool(ignored))


def parse_playlist(pages: str | None, scope: Scope) -> list[Slide]:
    return read_playlist(pages, scope).slides


def slide_title(slide: Slide) -> str:
    return {"overview": "Network overview", "excursions": "Live excursions"}.get(slide.kind, f"Site {slide.site_id}")


# --- slides -----------------------------------------------------------------------------------------
def _tile(kpi: catalog.Kpi, row: dict | None, *, compare: str | None = None) -> html.Div:
    suppressed = bool(row and row.get("suppressed"))
    value = None if row is None or suppressed else row.get("value")
    symbol, word, css = status_parts(kpi, value, suppressed=suppressed)
    return html.Div([
        html.Div(kpi.title, className="kiosk-tile-title"),
        html.Div("suppressed" if suppressed else _value(kpi, value), className="kiosk-tile-value"),
        html.Div([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}), f" {word}"],
                 className=f"kiosk-tile-status {css}"),
        html.Div(format_target(kpi) + (f" · {compare}" if compare else ""), className="kiosk-tile-target"),
    ], className=f"kiosk-tile {css}-border")


def _value(kpi: catalog.Kpi, value) -> list:
    """The number large and its unit small, so '0.31 per batch' stays on one line on a tile."""
    text, number = format_value(kpi, value), format_number(kpi, value)
    if is_missing(value) or not text.startswith(number):
        return [text]
    return [number, html.Span(text[len(number):], className="kiosk-unit")]


def _row(frame: pd.DataFrame, kpi_id: str, site_id: str) -> dict | None:
    rows = frame[(frame["kpi_id"] == kpi_id) & (frame["site_id"] == site_id)]
    return None if rows.empty else rows.iloc[0].to_dict()


def overview_slide(slide: Slide, scope: Scope, frame: pd.DataFrame, sites: pd.DataFrame) -> list:
    tiles = [_tile(k, _row(frame, k.id, NETWORK)) for k in catalog.HEADLINE]
    head = html.Tr([html.Th("Site", scope="col")] + [html.Th(k.title, scope="col") for k in catalog.HEADLINE])
    rows = []
    for site in sites.itertuples():
        cells = [html.Th(f"{site.name} ({site.site_id})" if len(site.name) < 28 else site.site_id, scope="row")]
        for kpi in catalog.HEADLINE:
            row = _row(frame, kpi.id, site.site_id)
            suppressed = bool(row and row.get("suppressed"))
            value = None if row is None or suppressed else row.get("value")
            symbol, word, css = status_parts(kpi, value, suppressed=suppressed)
            text = "suppressed" if suppressed else format_value(kpi, value)
            cells.append(html.Td([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}),
                                  f" {text}", html.Span(f" ({word})", className="visually-hidden")],
                                 className=css))
        rows.append(html.Tr(cells))
    return [html.H1("Network overview", className="kiosk-title"),
            html.Div(tiles, className="kiosk-tiles"),
            html.Table([html.Thead(head), html.Tbody(rows)], className="kiosk-grid")]


def site_slide(slide: Slide, scope: Scope, frame: pd.DataFrame, sites: pd.DataFrame) -> list:
    site = sites[sites["site_id"] == slide.site_id].iloc[0]
    def tile(k):
        net = _row(frame, k.id, NETWORK)
        net_value = None if net is None or net.get("suppressed") else net.get("value")
        return _tile(k, _row(frame, k.id, slide.site_id), compare=f"network {format_value(k, net_value)}")
    return [html.H1(f"{site['name']} ({slide.site_id})", className="kiosk-title"),
            html.Div([tile(k) for k in catalog.HEADLINE], className="kiosk-tiles"),
            html.Div([tile(catalog.get(k)) for k in SITE_KPIS], className="kiosk-tiles kiosk-tiles-small")]


def excursions_slide(slide: Slide, scope: Scope, frame: pd.DataFrame, sites: pd.DataFrame) -> list:
    """Live excursions from the monitoring pages (dashboard/pages/monitoring.py). Hook: if that module
    is not in this build, the slide says so instead of failing."""
    try:
        from dashboard.components import excursion_tiles
        from queries.analyses import monitoring
    except ImportError:
        return [html.H1("Live excursions", className="kiosk-title"),
                html.P("Live monitoring is not installed in this build.", className="kiosk-note")]
    now = context.now()
    wh = context.warehouse()
    open_exc, _counts = monitoring.open_excursions(wh, scope)
    status = monitoring.sites_status(wh, scope, now, context.settings().stale_after_s)
    head = html.Tr([html.Th(h, scope="col") for h in ("Site", "Open action", "Open alert", "Sensors reporting")])
    rows = [html.Tr([html.Th(f"{r['site_id']}", scope="row"),
                     html.Td(_count(r.get("open_action"), "action")), html.Td(_count(r.get("open_alert"), "alert")),
                     html.Td(_reporting(r))])
            for r in status.to_dict("records")]
    shown = open_exc.head(KIOSK_EXCURSION_TILES)
    more = len(open_exc) - len(shown)
    tiles = excursion_tiles.tiles(shown, now, link_sites=False)
    if more > 0:  # one row of tiles fits beside every site's row; the table counts the rest
        tiles.append(html.P(f"and {more} more open excursion{'s' if more != 1 else ''}: see the sites below",
                            className="kiosk-note mb-0"))
    return [html.H1("Live excursions", className="kiosk-title"),
            html.Div(tiles, className="kiosk-excursions"),
            html.Table([html.Thead(head), html.Tbody(rows)], className="kiosk-grid")]


def _reporting(r: dict):
    fresh, total = int(r["sensors_fresh"]), int(r["sensors"])
    if fresh == 0:
        return html.Span([html.Span("–", className="status-symbol", **{"aria-hidden": "true"}),
                          f" no live data ({total} sensors)"], className="status-none")
    symbol, css = ("✓", "status-ok") if fresh == total else ("!", "status-near")
    return html.Span([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}),
                      f" {fresh} of {total}"], className=css)


def _count(value, level: str):
    n = 0 if is_missing(value) else int(value)
    symbol, css = ("✕", "status-off") if n and level == "action" else ("!", "status-near") if n else ("✓", "status-ok")
    return html.Span([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}),
                      f" {n} open {level}" if n else f" no open {level}"], className=css)


# Slide kinds a playlist may name. Other pages can add theirs: SLIDE_RENDERERS["kind"] = renderer.
SLIDE_RENDERERS: dict[str, Callable[[Slide, Scope, pd.DataFrame, pd.DataFrame], list]] = {
    "overview": overview_slide,
    "excursions": excursions_slide,
    "site": site_slide,
}
