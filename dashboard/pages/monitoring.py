"""Environmental monitoring across the network (/monitoring): each site's live status and the open
excursions; also serves the live excursion tiles on the network overview (same component)."""

from __future__ import annotations

from datetime import timedelta

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, callback, dcc, html

from dashboard import context, ids
from dashboard.components import excursion_tiles
from dashboard.components.formatting import utc_label
from queries.analyses import monitoring
from queries.imports import ingest_store

PAGE = "/monitoring"
dash.register_page(__name__, path=PAGE, name="Monitoring", nav=True, order=2,
                   title="Environmental monitoring · ATMP Quality Hub")


def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    refresh_s = context.settings().monitoring_refresh_s
    return html.Div([
        html.H1("Environmental monitoring", className="h3 mb-1"),
        html.P(id=ids.MON_NET_AS_OF, className="as-of text-body-secondary"),
        excursion_tiles.section(refresh_s),
        html.H2("Sites", className="h5"),
        html.Div(id=ids.MON_SITES),
        dcc.Interval(id=ids.MON_NET_TICK, interval=refresh_s * 1000),
    ])


@callback(Output(ids.MON_SITES, "children"), Output(ids.MON_NET_AS_OF, "children"),
          Input(ids.MON_NET_TICK, "n_intervals"))
def refresh_sites(_n):
    scope = context.scope(None, PAGE)
    now, cfg = context.now(), context.settings()
    status = monitoring.sites_status(context.warehouse(), scope, now, cfg.stale_after_s)
    link = scope.role in context.PAGE_ROLES["/monitoring/<site_id>"]
    sites = [sites_table(status, link), quarantine_note(now, cfg.mqtt_topic_prefix)]
    return sites, (f"Live data as of {utc_label(_latest(status))} · refreshed "
                   f"{now:%H:%M:%S} UTC · a sensor silent for more than "
                   f"{cfg.stale_after_s} s counts as stale")


def quarantine_note(now, prefix: str):
    """Messages ingest refused in the last 24 h, and those on a topic outside the pattern (issue 27)."""
    total, bad_topic = ingest_store.quarantine_counts(context.warehouse(), now - timedelta(hours=24))
    return html.P(f"Quarantined in the last 24 h: {total} messages, {bad_topic} of them on a topic outside "
                  f"{prefix}site/<site>/room/<room>/sensor/<sensor>.", className="text-body-secondary small")


def _latest(status):
    latest = status["latest_ts"].dropna()
    return None if latest.empty else latest.max()


def sites_table(status, link: bool):
    if status.empty:
        return html.P("No sites in your scope.")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Site", "Open action", "Open alert", "Not acknowledged", "Sensors reporting", "Newest reading")]))
    rows = []
    for r in status.to_dict("records"):
        name = f"{r['name']} ({r['site_id']})"
        label = dcc.Link(name, href=f"/monitoring/{r['site_id']}") if link else name
        fresh, total = int(r["sensors_fresh"]), int(r["sensors"])
        rows.append(html.Tr([
            html.Th(label, scope="row"),
            _count(r["open_action"], "✕", "status-off"),
            _count(r["open_alert"], "!", "status-near"),
            html.Td(int(r["unacknowledged"])),
            html.Td(f"{fresh} of {total}" + ("" if fresh == total else " (others stale)"),
                    className="status-ok" if fresh == total else "status-none"),
            html.Td("no live data" if pd.isna(r["latest_ts"]) else utc_label(r["latest_ts"])),
        ], id={"type": "monitoring-site-row", "site": r["site_id"]}))
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, responsive=True, className="align-middle")


def _count(value, symbol: str, css: str):
    n = int(value)
    if n == 0:
        return html.Td("0", className="status-none")
    return html.Td([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}), f" {n}"], className=css)


# The overview's live excursion tiles (dashboard/pages/overview.py places excursion_tiles.section).
@callback(Output(ids.OV_EXC_TILES, "children"), Output(ids.OV_EXC_AS_OF, "children"),
          Input(ids.OV_EXC_TICK, "n_intervals"))
def refresh_excursion_tiles(_n):
    scope = context.scope(None, "/")
    now = context.now()
    frame, network = monitoring.open_excursions(context.warehouse(), scope)
    # A site manager sees own-site tiles and only an anonymised count for the rest of the network.
    counts = network if scope.role == "site_manager" else None
    link = scope.role in context.PAGE_ROLES["/monitoring/<site_id>"]
    records = scope.role in context.PAGE_ROLES["/excursion/<excursion_id>"]
    cards = excursion_tiles.tiles(frame, now, network_counts=counts, link_sites=link, link_records=records)
    return cards, f"updated {now:%H:%M:%S} UTC · every {context.settings().monitoring_refresh_s} s"
