"""Network overview: the four headline KPIs, the site x KPI grid and the time window."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import context, data, ids
from dashboard.components import export
from dashboard.components.controls import window_selector
from dashboard.components.excursion_tiles import section as excursion_section
from dashboard.components.formatting import is_missing, utc_label
from dashboard.components.kpi_tile import kpi_tile
from dashboard.components.site_grid import site_grid
from queries.kpi import catalog
from queries.kpi.catalog import NETWORK

dash.register_page(__name__, path="/", name="Network overview", nav=True, order=0,
                   title="Network overview · ATMP Quality Hub")
export.register("overview", window_id=ids.OV_WINDOW)


def layout(**_):
    if not context.allowed("/"):
        return context.denied_page()
    return html.Div([
        html.Div([
            html.H1("Network overview", className="h3 mb-0"),
            window_selector(ids.OV_WINDOW, context.settings().default_window_days),
        ], className="d-flex flex-wrap justify-content-between align-items-center gap-3 mb-2"),
        html.P(id=ids.OV_AS_OF, className="as-of text-body-secondary"),
        export.export_bar("overview", ["report", "headline", "kpis"]),
        dcc.Loading(dbc.Row(id=ids.OV_TILES, className="g-3 mb-4"), type="dot"),
        excursion_section(context.settings().monitoring_refresh_s),  # live tiles; callback in pages/monitoring.py
        html.H2("Sites", className="h5"),
        dcc.Store(id=ids.OV_GRID_HTML),
        html.Div(id=ids.OV_GRID_HOST, className="site-grid-host"),
        html.Div(id=ids.OV_GRID),
    ])


clientside_callback(
    ClientsideFunction(namespace="grid", function_name="render"),
    Output(ids.OV_GRID_HOST, "className"),  # never changed (the function answers no_update)
    Input(ids.OV_GRID_HTML, "data"),
    State(ids.OV_GRID_HOST, "id"),
)


def _detail(kpi_id: str, row) -> str | None:
    if row is None:
        return None
    if kpi_id == "mttd" and not is_missing(row.get("median_h")):
        late = 0 if is_missing(row.get("found_late")) else int(row["found_late"])
        return (f"median {row['median_h']:.1f} h · p90 {row['p90_h']:.1f} h · by detection date"
                + (f", {late} occurred before the window" if late else ""))
    if kpi_id == "recurrence" and not is_missing(row.get("cross_site_pct")):
        return f"cross-site recurrence {row['cross_site_pct']:.1f} %"
    if kpi_id == "psych_safety" and not is_missing(row.get("score_1_7")):
        return f"{row['score_1_7']:.2f} on the 1-7 scale"
    if kpi_id == "consistency" and not is_missing(row.get("denominator")):
        return f"{int(row['numerator'])} of {int(row['denominator'])} site × CQA pairs equivalent"
    return None


@callback(
    Output(ids.OV_TILES, "children"),
    Output(ids.OV_GRID_HTML, "data"),
    Output(ids.OV_GRID, "children"),
    Output(ids.OV_AS_OF, "children"),
    Input(ids.OV_WINDOW, "value"),
)
def refresh(days):
    scope = context.scope(days, "/")
    days = context.window_days(days)
    current = data.kpis(scope)
    headline_ids = [k.id for k in catalog.HEADLINE]
    previous = data.kpis(scope.previous_window(), headline_ids)
    tiles = []
    for kpi in catalog.HEADLINE:
        row = _network_row(current, kpi.id)
        prev = _network_row(previous, kpi.id)
        href = "/comparability" if kpi.id == "consistency" else None
        tiles.append(dbc.Col(kpi_tile(
            data.kpi_text(kpi), None if row is None else row["value"], None if prev is None else prev["value"], days=days,
            n=None if row is None else row.get("n"), detail=_detail(kpi.id, row),
            suppressed=bool(row is not None and row.get("suppressed")), href=href,
        ), xs=12, md=6, xl=3))
    sites = data.sites(scope)
    grid_kpis = [data.kpi_text(k) for k in catalog.CATALOG]
    link_sites = scope.role in context.PAGE_ROLES["/site/<site_id>"]
    grid = site_grid(current, sites, grid_kpis, link_sites=link_sites, themes=catalog.THEMES)
    note = None
    if scope.role == "site_manager":
        note = html.P("Other sites are shown only inside the network aggregate.", className="small")
    as_of = (f"Window: {scope.start:%Y-%m-%d} to {scope.end:%Y-%m-%d %H:%M} UTC · "
             f"data as of {utc_label(data.data_as_of())} · network views use UTC")
    return tiles, grid, note, as_of


def _network_row(frame, kpi_id):
    rows = frame[(frame["kpi_id"] == kpi_id) & (frame["site_id"] == NETWORK)]
    return None if rows.empty else rows.iloc[0].to_dict()


