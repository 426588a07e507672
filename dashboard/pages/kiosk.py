"""Kiosk mode for wall displays: /kiosk?pages=overview,excursions,site:CHI&interval=30

No navigation chrome, large type on a high-contrast dark theme, a data-as-of line and a UTC clock.
The playlist lives in the URL and the slide shown is chosen from the wall clock (slot = time //
interval), so a reload or a server restart continues the rotation where it was, and several screens
showing the same playlist stay in step. All slides are rendered on the server at each data refresh;
the browser only switches which one is visible (assets/kiosk.js), reloads the whole page every
`reload` minutes to clear browser memory (only once /healthz answers), and reloads early when its
session has gone (the kiosk cookie then signs the display in again: dashboard/kiosk_auth.py)."""

from __future__ import annotations

import logging

import dash
import pandas as pd
from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import context, data, ids
from dashboard.components.formatting import utc_label
from dashboard.components.kiosk_slides import SLIDE_RENDERERS, parse_playlist, slide_title

logger = logging.getLogger(__name__)

PAGE = "/kiosk"
dash.register_page(__name__, path=PAGE, name="Wall display", nav=False, title="Wall display · ATMP Quality Hub")

INTERVAL_S = (5, 30, 3600)  # min, default, max seconds per slide
REFRESH_S = (15, 60, 3600)  # data refresh
RELOAD_MIN = (1, 60, 1440)  # full page reload


def _bounded(value, limits: tuple[int, int, int]) -> int:
    low, default, high = limits
    try:
        return min(high, max(low, int(value)))
    except (TypeError, ValueError, OverflowError):  # OverflowError: int() of an infinite float
        return default


def layout(pages=None, interval=None, refresh=None, reload=None, **_):
    if not context.allowed(PAGE):
        return context.denied_page()
    scope = context.scope(None, PAGE)
    slides = parse_playlist(pages, scope)
    interval_s = _bounded(interval, INTERVAL_S)
    playlist = {"slides": [s.key for s in slides], "titles": [slide_title(s) for s in slides],
                "interval": interval_s, "reload": _bounded(reload, RELOAD_MIN)}
    return html.Div([
        dcc.Store(id=ids.KIOSK_PLAYLIST, data=playlist),
        html.Header([
            html.Div("ATMP Quality Hub", className="kiosk-brand"),
            html.Div(id=ids.KIOSK_POSITION, className="kiosk-position", **{"aria-live": "polite"}),
            html.Div(id=ids.KIOSK_CLOCK, className="kiosk-clock"),
        ], className="kiosk-header"),
        html.Div([html.Section(html.P("Loading…", className="kiosk-loading"), id=ids.kiosk_slide(i),
                               className="kiosk-slide", hidden=i != 0) for i in range(len(slides))],
                 id=ids.KIOSK_SLIDES, className="kiosk-slides"),
        html.Footer(html.Div(id=ids.KIOSK_AS_OF), className="kiosk-footer"),
        dcc.Interval(id=ids.KIOSK_TICK, interval=1000),
        dcc.Interval(id=ids.KIOSK_REFRESH, interval=_bounded(refresh, REFRESH_S) * 1000),
    ], id=ids.KIOSK_ROOT, className="kiosk")


clientside_callback(
    ClientsideFunction(namespace="kiosk", function_name="tick"),
    Output({"type": ids.KIOSK_SLIDE, "index": ALL}, "hidden"),
    Output(ids.KIOSK_CLOCK, "children"),
    Output(ids.KIOSK_POSITION, "children"),
    Input(ids.KIOSK_TICK, "n_intervals"),
    State(ids.KIOSK_PLAYLIST, "data"),
)


@callback(
    Output(ids.KIOSK_SLIDES, "children"),
    Output(ids.KIOSK_AS_OF, "children"),
    Input(ids.KIOSK_REFRESH, "n_intervals"),
    State(ids.KIOSK_PLAYLIST, "data"),
)
def refresh(_n, playlist):
    scope = context.scope(None, PAGE)
    # The playlist comes back from the browser: parse it again under the server's scope.
    keys = (playlist or {}).get("slides") if isinstance(playlist, dict) else None
    slides = parse_playlist(",".join(map(str, keys)) if isinstance(keys, list) else None, scope)
    interval_s = _bounded((playlist or {}).get("interval") if isinstance(playlist, dict) else None, INTERVAL_S)
    now = context.now()
    current = int(pd.Timestamp.now(tz="UTC").timestamp() // interval_s) % len(slides)
    frame = data.kpis(scope)
    sites = data.sites(scope)
    sections = []
    for i, slide in enumerate(slides):
        try:
            body = SLIDE_RENDERERS[slide.kind](slide, scope, frame, sites)
        except Exception:  # one failing slide must not blank the wall
            logger.exception("kiosk slide %s failed", slide.key)
            body = [html.H1(slide_title(slide), className="kiosk-title"),
                    html.P("This slide is unavailable right now.", className="kiosk-note")]
        sections.append(html.Section(body, id=ids.kiosk_slide(i), className="kiosk-slide", hidden=i != current,
                                     **{"aria-label": slide_title(slide)}))
    as_of = (f"Data as of {utc_label(data.data_as_of())} · refreshed {now:%Y-%m-%d %H:%M} UTC · "
             f"window last {context.settings().default_window_days} days")
    return sections, as_of
