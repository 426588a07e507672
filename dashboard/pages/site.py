"""Site drill-down (/site/<site_id>): the site's KPIs beside the network, deviations, CAPAs, batches,
survey index and master-document drift, in the site's local time."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from dashboard import context, data, ids
from dashboard.components import export, figures
from dashboard.components.controls import window_selector
from dashboard.components.formatting import (
    CQA_VERDICT_TEXT,
    format_target,
    format_value,
    is_missing,
    status_parts,
    to_local,
    utc_label,
)
from dashboard.components.record_links import record_href, record_link
from queries.engine.scope import NotFound
from queries.kpi import catalog
from queries.kpi.catalog import NETWORK

PAGE = "/site/<site_id>"
dash.register_page(__name__, path_template=PAGE, name="Site drill-down", title="Site · ATMP Quality Hub")
export.register("site", window_id=ids.SITE_WINDOW, site_store_id=ids.SITE_ID_STORE)


def layout(site_id=None, **_):
    if not context.allowed(PAGE):
        return context.denied_page()
    scope = context.scope(None, PAGE)
    try:
        scope.for_site(site_id)
    except NotFound:
        return not_found(site_id)
    return html.Div([
        dcc.Store(id=ids.SITE_ID_STORE, data=site_id),
        dcc.Location(id=ids.SITE_RECORD_NAV, refresh="callback-nav"),
        html.Div([
            html.Div([dcc.Link("← Network overview", href="/", className="small"),
                      html.H1(id="site-title", className="h3 mb-0")]),
            window_selector(ids.SITE_WINDOW, context.settings().default_window_days),
        ], className="d-flex flex-wrap justify-content-between align-items-end gap-3 mb-2"),
        html.P(id=ids.SITE_AS_OF, className="as-of text-body-secondary"),
        export.export_bar("site", ["report", "kpis", "deviations", "survey", "capas", "drift", "batches"]),
        dcc.Loading(html.Div(id=ids.SITE_BODY), type="dot"),
    ])


def not_found(site_id) -> html.Div:
    return html.Div([html.H1("Site not found", className="h3"),
                     html.P(f"There is no site {site_id!r} you may open."),
                     dcc.Link("Back to the network overview", href="/")], id="site-not-found")


@callback(
    Output("site-title", "children"),
    Output(ids.SITE_BODY, "children"),
    Output(ids.SITE_AS_OF, "children"),
    Input(ids.SITE_WINDOW, "value"),
    State(ids.SITE_ID_STORE, "data"),
)
def refresh(days, site_id):
    # site_id comes from the browser: it only ever narrows the server-built scope.
    full = context.scope(days, PAGE)
    try:
        scope = full.for_site(site_id)
    except NotFound:
        return "Site not found", not_found(site_id), ""
    site = data.sites(scope).iloc[0]
    tz = site["timezone"]
    frame = data.kpis(full.for_site(site_id, with_network=True))
    records = data.site_records(scope)
    devs, capas, waves = records.deviations, records.open_capas, records.survey_waves
    psych = catalog.get("psych_safety")
    body = [
        html.H2("KPIs: this site beside the network", className="h5"),
        kpi_comparison(frame, site_id, data.kpi_options()),
        html.Div([
            html.H2("Deviations", className="h5 mt-4"),
            dcc.Graph(figure=figures.deviation_timeline(devs, tz, records.programmes), id=ids.SITE_TIMELINE,
                      config={"displaylogo": False}),
            html.P("Click a point to open the deviation; every deviation of the window is also listed below.",
                   className="small text-body-secondary"),
            deviation_table(devs, tz),
        ]),
        dbc.Row([
            dbc.Col([html.H2("Open CAPAs", className="h5 mt-4"), capa_table(capas, tz)], lg=6),
            dbc.Col([html.H2("Psychological safety", className="h5 mt-4"),
                     dcc.Graph(figure=figures.survey_waves(waves, psych.target), id="site-survey",
                               config={"displaylogo": False}),
                     html.P(f"Waves with fewer than {data.kpi_options()['min_respondents']} respondents are "
                            "suppressed to protect anonymity.",
                            className="small text-body-secondary")], lg=6),
        ]),
        html.H2("Master-document drift", className="h5 mt-4"),
        drift_table(records.document_drift, tz),
        html.H2("Batches started in the window", className="h5 mt-4"),
        batch_table(records.batches, tz),
    ]
    title = f"{site['name']} ({site_id})"
    as_of = (f"Times in {tz} ({pd.Timestamp(scope.end).tz_localize('UTC').tz_convert(tz):%Z}) · window "
             f"{to_local(scope.start, tz)} to {to_local(scope.end, tz)} · data as of "
             f"{utc_label(data.data_as_of())}")
    return title, body, as_of


def kpi_comparison(frame: pd.DataFrame, site_id: str, options: dict[str, int] | None = None) -> dbc.Table:
    """Every KPI of the site beside the network; ``options``: the KPI options in force (the catalogue's
    defaults when not given), which the definitions and the suppression note state."""
    rows = []
    options = {**catalog.OPTIONS, **(options or {})}
    minimum = options["min_respondents"]
    for kpi in (k.rendered(options) for k in catalog.CATALOG):
        site_row = frame[(frame.kpi_id == kpi.id) & (frame.site_id == site_id)]
        net_row = frame[(frame.kpi_id == kpi.id) & (frame.site_id == NETWORK)]
        suppressed = not site_row.empty and bool(site_row.iloc[0]["suppressed"])
        value = None if site_row.empty else site_row.iloc[0]["value"]
        net = None if net_row.empty else net_row.iloc[0]["value"]
        symbol, word, css = status_parts(kpi, value, suppressed=suppressed)
        rows.append(html.Tr([
            html.Th(dcc.Link(kpi.title, href=f"/definitions#kpi-{kpi.id}", title=kpi.definition),
                    scope="row"),
            html.Td(f"suppressed (< {minimum} respondents)" if suppressed else format_value(kpi, value),
                    className="fw-semibold"),
            html.Td(format_value(kpi, net)),
            html.Td(format_target(kpi)),
            html.Td([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}), f" {word}"],
                    className=css),
        ], id={"type": "site-kpi-row", "kpi": kpi.id}))
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in ("KPI", "This site", "Network", "Target",
                                                                    "Status")]))
    return dbc.Table([head, html.Tbody(rows)], hover=True, size="sm", responsive=True,
                     className="kpi-comparison align-middle")


def _table(frame: pd.DataFrame, columns: dict, empty: str, table_id: str):
    if frame.empty:
        return html.P(empty, className="text-body-secondary", id=table_id)
    head = html.Thead(html.Tr([html.Th(label, scope="col") for label in columns.values()]))
    body = html.Tbody([html.Tr([html.Td(row[c]) for c in columns]) for _, row in frame.iterrows()])
    return dbc.Table([head, body], size="sm", hover=True, responsive=True, id=table_id)


@callback(
    Output(ids.SITE_RECORD_NAV, "href"),
    Input(ids.SITE_TIMELINE, "clickData"),
    prevent_initial_call=True,
)
def open_clicked_deviation(deviation_id):
    """A timeline point opens its deviation record (dashboard/inputs.py reduces the click to the point's
    deviation id); the record page checks the reader's scope, so a forged click can only lead to
    "not found"."""
    context.require_page(PAGE)
    if not deviation_id:
        return dash.no_update
    return record_href("deviation", deviation_id)


def deviation_table(devs: pd.DataFrame, tz: str):
    """The window's deviations, newest first, each a link to its record (the timeline's points as text)."""
    shown = devs.sort_values("detected_at", ascending=False).head(50)
    shown = shown.assign(deviation=shown["deviation_id"].map(lambda i: record_link("deviation", i)),
                         detected=shown["detected_at"].map(lambda t: to_local(t, tz)),
                         batch=shown["batch_id"].map(lambda b: record_link("batch", b)))
    note = (html.P(f"Showing the newest 50 of {len(devs)} deviations.", className="small")
            if len(devs) > 50 else None)
    return html.Details([html.Summary(f"{len(devs)} deviations detected in the window"),
                         _table(shown, {"deviation": "Deviation", "detected": "Detected", "severity": "Severity",
                                        "root_cause_code": "Root cause", "batch": "Batch"},
                                "No deviations detected in this window.", "site-deviations"), note],
                        id="site-deviation-list")


def capa_table(capas: pd.DataFrame, tz: str):
    capas = capas.assign(
        opened=capas["opened_at"].map(lambda t: to_local(t, tz)),
        due=capas["due_at"].map(lambda t: to_local(t, tz)),
        overdue=capas["days_overdue"].map(lambda d: f"✕ {d:.0f} days overdue" if d > 0 else "on time"),
    )
    capas = capas.assign(deviation=capas["deviation_id"].map(lambda i: record_link("deviation", i)),
                         capa=capas["capa_id"].map(lambda i: record_link("capa", i)))
    return _table(capas, {"capa": "CAPA", "deviation": "Deviation", "severity": "Severity",
                          "opened": "Opened", "due": "Due", "overdue": "Status"},
                  "No open CAPAs.", "site-open-capas")


def drift_table(drift: pd.DataFrame, tz: str):
    drift = drift.assign(
        versions=[f"site v{s} / master v{m}" for s, m in zip(drift["site_version"], drift["master_version"],
                                                              strict=True)],
        master_since=drift["master_effective_at"].map(lambda t: to_local(t, tz)),
        behind=drift["days_behind"].map(lambda d: f"{d:.0f} days"),
    )
    return _table(drift, {"doc_id": "Document", "title": "Title", "versions": "Versions",
                          "master_since": "Master effective", "behind": "Behind for"},
                  "Every controlled document is at the master version.", "site-document-drift")


def batch_table(batches: pd.DataFrame, tz: str):
    shown = batches.head(25)
    shown = shown.assign(
        started=shown["started_at"].map(lambda t: to_local(t, tz)),
        result=shown["cqa_verdict"].map(CQA_VERDICT_TEXT),
        viability=shown["viability_pct"].map(lambda v: "–" if is_missing(v) else f"{v:.1f}"),
        transduction=shown["transduction_pct"].map(lambda v: "–" if is_missing(v) else f"{v:.1f}"),
    )
    note = html.P(f"Showing the newest 25 of {len(batches)} batches.", className="small") if len(batches) > 25 else None
    shown = shown.assign(batch=shown["batch_id"].map(lambda b: record_link("batch", b)))
    return html.Div([_table(shown, {"batch": "Batch", "product": "Product", "started": "Started",
                                    "status": "Status", "viability": "Viability %",
                                    "transduction": "Transduction %", "result": "CQAs"},
                            "No batches started in this window.", "site-batches"), note])
