"""Kiosk mode for wall displays: /kiosk?pages=overview,excursions,site:CHI&interval=30

No navigation chrome, large type on a high-contrast dark theme, a data-as-of line and a UTC clock.
The playlist lives in the URL and the slide shown is chosen from the wall clock (slot = time //
interval), so a reload or a server restart continues the rotation where it was, and several screens
showing the same playlist stay in step. All slides are rendered on the server at each data refresh;
the browser only switches which one is visible (assets/kiosk.js), reloads the whole page every
`reload` minutes to clear browser memory (only once /healthz answers), and reloads early when its
session has gone (the kiosk cookie then signs the display in again: dashboard/kiosk_auth.py).

Playlist entries that cannot be shown (an unknown page, a site that does not exist or that this display
may not see) are not dropped silently: a notice at the top of the screen names each one and why for
NOTICE_S seconds after every load, and the server logs one WARNING line per load."""

from __future__ import annotations

import logging

import dash
import pandas as pd
from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html
from flask import has_request_context, session

from dashboard import context, data, ids
from dashboard.components.formatting import utc_label
from dashboard.components.kiosk_slides import (  # noqa: F401 - NO_SITE, TOO_MANY, UNKNOWN_PAGE for tests
    DEFAULT_PAGES,
    MAX_SLIDES,
    NO_SITE,
    SLIDE_RENDERERS,
    TOO_MANY,
    UNKNOWN_PAGE,
    Playlist,
    Slide,
    parse_playlist,
    read_playlist,
    slide_title,
)
from dashboard.kiosk_auth import SESSION_KEY
from queries.engine.scope import Scope

logger = logging.getLogger(__name__)

PAGE = "/kiosk"
dash.register_page(__name__, path=PAGE, name="Wall display", nav=False, title="Wall display · ATMP Quality Hub")

INTERVAL_S = (5, 30, 3600)  # min, default, max seconds per slide
REFRESH_S = (15, 60, 3600)  # data refresh
RELOAD_MIN = (1, 60, 1440)  # full page reload
NOTICE_S = 60  # how long the notice of ignored playlist entries stays on the screen after a load
NOTICE_SHOWN = 6  # entries named on the screen; the log names them all

def _bounded(value, limits: tuple[int, int, int]) -> int:
    low, default, high = limits
    try:
        return min(high, max(low, int(value)))
    except (TypeError, ValueError, OverflowError):  # OverflowError: int() of an infinite float
        return default


def _short(entry: str, limit: int = 40) -> str:
    return entry if len(entry) <= limit else entry[:limit - 1] + "…"


def _notice_children(playlist: Playlist) -> list:
    shown = playlist.ignored[:NOTICE_SHOWN]
    items = [html.Li([html.Code(_short(entry), className="kiosk-notice-entry"), f" — {reason}"])
             for entry, reason in shown]
    if len(playlist.ignored) > len(shown):
        items.append(html.Li(f"and {len(playlist.ignored) - len(shown)} more (named in the server log)"))
    default = ", ".join(slide_title(Slide(k)) for k in DEFAULT_PAGES)
    outcome = (f"No entry could be shown, so the default playlist ({default}) is shown instead."
               if playlist.fallback else "The other entries are shown.")
    return [html.P([html.Strong("Playlist entries ignored: "),
                    f"check the pages= part of this screen's address. {outcome}"], className="kiosk-notice-lead"),
            html.Ul(items, className="kiosk-notice-list"),
            html.P(f"This notice disappears {NOTICE_S} s after the page loads.", className="kiosk-notice-hint")]


def _log_ignored(playlist: Playlist, scope: Scope) -> None:
    token_id = session.get(SESSION_KEY) if has_request_context() else None
    logger.warning("kiosk playlist of %s (display token %s): ignored %s%s", scope.user_id, token_id or "-",
                   "; ".join(f"{entry!r} ({reason})" for entry, reason in playlist.ignored),
                   " - showing the default playlist instead" if playlist.fallback else "")


def layout(pages=None, interval=None, refresh=None, reload=None, **_):
    if not context.allowed(PAGE):
        return context.denied_page()
    scope = context.scope(None, PAGE)
    read = read_playlist(pages, scope)
    slides = read.slides
    if read.ignored:
        _log_ignored(read, scope)
    interval_s = _bounded(interval, INTERVAL_S)
    playlist = {"slides": [s.key for s in slides], "titles": [slide_title(s) for s in slides],
                "interval": interval_s, "reload": _bounded(reload, RELOAD_MIN)}
    return html.Div([
        dcc.Store(id=ids.KIOSK_PLAYLIST, data=playlist),
        # Over the top of the screen (position: fixed), so it never pushes the slide off a wall display.
        html.Div(_notice_children(read) if read.ignored else None, id=ids.KIOSK_NOTICE, className="kiosk-notice",
                 hidden=not read.ignored, role="status", **{"data-seconds": str(NOTICE_S)}),
        dcc.Interval(id=ids.KIOSK_NOTICE_TIMER, interval=NOTICE_S * 1000, max_intervals=1,
                     disabled=not read.ignored),
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

clientside_callback(
    ClientsideFunction(namespace="kiosk", function_name="hideNotice"),
    Output(ids.KIOSK_NOTICE, "hidden"),
    Input(ids.KIOSK_NOTICE_TIMER, "n_intervals"),
    prevent_initial_call=True,
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
