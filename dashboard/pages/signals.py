"""Signals (/signals): CQA control charts with run rules, sensor drift early warning with lead times and
systemic (cross-site) signals. The risk ranking and the proposed CAPAs with their signed review are in
signals_review.py; this layout places their sections.

Every callback rebuilds the scope on the server; the site chosen in the browser only narrows it, and a
site outside the scope is 'not found'."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, callback, dcc, html

from dashboard import context, data, ids, inputs, page_items
from dashboard.components import export
from dashboard.components import stats_figures as figs
from dashboard.components.controls import window_selector
from dashboard.components.record_links import record_link
from dashboard.components.tables import badge, table
from dashboard.pages import signals_review
from dashboard.pages.signals_review import GRAPH_CONFIG, PAGE, review_form
from queries.analyses import proposals, signals
from queries.engine.scope import NotFound, Scope
from queries.kpi.catalog import CQA_COLUMNS

dash.register_page(__name__, path=PAGE, name="Signals", nav=True, order=40, title="Signals · ATMP Quality Hub")
signals_review.register()
# The I-MR and drift charts export with the page's selections, each checked again on the server and only
# narrowing the user's scope (dashboard/exports/sources.py, items of page "signals").
export.register("signals", window_id=ids.SIG_WINDOW, site_store_id=ids.SIG_SITE, site_property="value",
                selections={"product": ids.SIG_PRODUCT, "cqa": ids.SIG_CQA, "rules": ids.SIG_RULES,
                            "sensor": ids.SIG_SENSOR})

NOT_FOUND = "Site not found"


def layout(site=None, **_):
    if not context.allowed(PAGE):
        return context.denied_page()
    scope = context.scope(None, PAGE)
    sites = data.sites(scope)
    options = [{"label": f"{r.name} ({r.site_id})", "value": r.site_id} for r in sites.itertuples(index=False)]
    chosen = site if site in scope.site_ids else (scope.site_ids[0] if scope.site_ids else None)
    products = page_items.products()
    return html.Div([
        html.Div([
            html.H1("Statistical signals", className="h3 mb-0"),
            window_selector(ids.SIG_WINDOW, context.settings().default_window_days),
        ], className="d-flex flex-wrap justify-content-between align-items-center gap-3 mb-2"),
        html.P(id=ids.SIG_AS_OF, className="as-of text-body-secondary"),
        html.Div([
            html.Label("Site", htmlFor=ids.SIG_SITE, className="fw-semibold me-2"),
            dcc.Dropdown(id=ids.SIG_SITE, options=options, value=chosen, clearable=False, className="site-picker"),
        ], className="d-flex align-items-center gap-2 mb-3"),
        section("Control charts (I-MR) per CQA", [
            dbc.Row([
                dbc.Col(_labelled("Product", dcc.Dropdown(id=ids.SIG_PRODUCT, options=products,
                                                          value=products[0] if products else None,
                                                          clearable=False)), md=3),
                dbc.Col(_labelled("CQA", dcc.Dropdown(id=ids.SIG_CQA, clearable=False, value=CQA_COLUMNS[0], options=[
                    {"label": signals.CQA_LABELS[c], "value": c} for c in CQA_COLUMNS])), md=3),
                dbc.Col(_labelled("Run rules", dbc.RadioItems(id=ids.SIG_RULES, inline=True, value="nelson", options=[
                    {"label": text, "value": key} for key, text in page_items.RULE_SET_LABELS.items()])), md=6),
            ], className="g-3 mb-2"),
            export.export_menu("signals", "imr", label="Export control chart"),
            dcc.Loading(dcc.Graph(id=ids.SIG_IMR, config=GRAPH_CONFIG), type="dot"),
            html.Div(id=ids.SIG_IMR_SUMMARY, className="mb-2"),
            html.Div(id=ids.SIG_IMR_TABLE),
        ]),
        section("Drift early warning (EWMA and CUSUM on daily sensor means)", [
            dbc.Row(dbc.Col(_labelled("Sensor", dcc.Dropdown(id=ids.SIG_SENSOR, clearable=False)), md=6),
                    className="mb-2"),
            export.export_menu("signals", "drift", label="Export drift chart"),
            dcc.Loading(dcc.Graph(id=ids.SIG_DRIFT, config=GRAPH_CONFIG), type="dot"),
            html.Div(id=ids.SIG_DRIFT_SUMMARY, className="mb-2"),
            html.Div(id=ids.SIG_DRIFT_TABLE),
        ]),
        section("Systemic signals: the same root cause or SOP at two or more sites", [
            dbc.Row([
                dbc.Col(_labelled("Window", dbc.RadioItems(
                    id=ids.SIG_SYSTEMIC_WINDOW, inline=True, value=signals.SYSTEMIC_DEFAULT_WINDOW,
                    options=[{"label": f"{d} days", "value": d} for d in signals.SYSTEMIC_WINDOWS])), md=6),
                dbc.Col(dbc.Checklist(id=ids.SIG_SYSTEMIC_ALL, switch=True, value=[], options=[
                    {"label": "also show clusters consistent with chance", "value": "all"}]), md=6),
            ], className="mb-2"),
            dcc.Loading(html.Div(id=ids.SIG_SYSTEMIC), type="dot"),
        ]),
        section("Risk ranking and oversight allocation", [dcc.Loading(html.Div(id=ids.SIG_RISK), type="dot")]),
        section("Proposed CAPAs (for review)", [
            dcc.Loading(html.Div(id=ids.SIG_PROPOSALS), type="dot"),
            review_form(),
        ]),
    ], id="signals-page")


def section(title: str, children: list) -> html.Section:
    return html.Section([html.H2(title, className="h5 mt-4"), *children], className="signals-section")


def _labelled(label: str, control) -> html.Div:
    return html.Div([html.Label(label, className="fw-semibold small d-block", htmlFor=control.id), control])


def _site_scope(days, site_id) -> tuple[Scope, Scope]:
    """(full scope, scope of the one chosen site); NotFound for a site outside the user's scope."""
    full = context.scope(days, PAGE)
    return full, full.for_site(site_id)


# --- control charts ---------------------------------------------------------------------------------
@callback(
    Output(ids.SIG_IMR, "figure"),
    Output(ids.SIG_IMR_SUMMARY, "children"),
    Output(ids.SIG_IMR_TABLE, "children"),
    Input(ids.SIG_WINDOW, "value"),
    Input(ids.SIG_SITE, "value"),
    Input(ids.SIG_PRODUCT, "value"),
    Input(ids.SIG_CQA, "value"),
    Input(ids.SIG_RULES, "value"),
)
def control_chart(days, site_id, product, cqa, rules):
    try:
        full, _ = _site_scope(days, site_id)
    except NotFound:
        return figs.empty(NOT_FOUND), html.P(NOT_FOUND, className="status-off"), None
    # Each selection is one of the offered choices, else the default (a forged list or dict included).
    cqa = inputs.one_of(cqa, CQA_COLUMNS, CQA_COLUMNS[0])
    rules = inputs.one_of(rules, signals.RULE_SETS, "nelson")
    specs = context.warehouse().query("sql/signals/specifications")
    product = inputs.one_of(product, specs["product"].tolist(), specs["product"].iloc[0] if len(specs) else "")
    chart, figure = page_items.control_chart(full, site_id, product, cqa, rules)
    flagged = chart[chart["flagged"]]
    versions = chart.drop_duplicates("process_version")
    limits = [f"{v.process_version}: centre {v.center:.3g}, limits {v.lcl:.3g} – {v.ucl:.3g}"
              for v in versions.itertuples(index=False) if pd.notna(v.center)]
    known, estimated = signals.IN_CONTROL_FLAG_RATE[rules]
    set_aside = int(chart["set_aside"].sum())
    summary = html.P([
        html.Strong(f"{len(flagged)} of {len(chart)} batches in the window flagged"),
        f" by {page_items.RULE_SET_LABELS[rules]}. ",
        html.Span(f"A process that never changes would have about {estimated:.1%} of its batches flagged by "
                  f"these rules (1 in {round(1 / estimated)}) with limits from {signals.BASELINE_BATCHES} "
                  f"batches, {known:.1%} with the true limits known. ", id=ids.SIG_IMR_FALSE_ALARMS),
        f"Limits from a stated baseline: the first {signals.BASELINE_BATCHES} batches of each process version "
        "(Phase I), never from the specification; baseline batches beyond the trial limits are set aside and the "
        f"limits recomputed ({set_aside} in this window). ",
        "; ".join(limits) + "." if limits else "No version has enough batches for limits yet.",
        " Right-skewed CQAs are charted on a log scale." if cqa in signals.LOG_SCALE_CQAS else "",
    ], className="small")
    shown = flagged.sort_values("started_at", ascending=False).assign(
        started=lambda f: pd.to_datetime(f["started_at"]).dt.strftime("%Y-%m-%d"),
        result=lambda f: f["value"].map(lambda v: f"{v:.3g}"))
    shown = shown.assign(batch=shown["batch_id"].map(lambda b: record_link("batch", b)))
    flag_table = table(shown, {"batch": "Batch", "started": "Started", "process_version": "Process version",
                               "result": "Result", "rules": "Rules violated"},
                       "signals-imr-flags", "No rule violations in the window.", max_rows=15)
    return figure, summary, flag_table


# --- drift -------------------------------------------------------------------------------------------
@callback(
    Output(ids.SIG_SENSOR, "options"),
    Output(ids.SIG_SENSOR, "value"),
    Output(ids.SIG_DRIFT, "figure"),
    Output(ids.SIG_DRIFT_SUMMARY, "children"),
    Output(ids.SIG_DRIFT_TABLE, "children"),
    Input(ids.SIG_WINDOW, "value"),
    Input(ids.SIG_SITE, "value"),
    Input(ids.SIG_SENSOR, "value"),
)
def drift(days, site_id, sensor_id):
    try:
        _, site_scope = _site_scope(days, site_id)
    except NotFound:
        return [], None, figs.empty(NOT_FOUND), html.P(NOT_FOUND, className="status-off"), None
    result = page_items.drift_analysis(site_scope)
    summary = result.summary
    options = [{"label": page_items.sensor_label(r) + (" ▲ warning" if r.status == "warning" else ""),
                "value": r.sensor_id} for r in summary.itertuples(index=False)]
    sensor_id = inputs.one_of(sensor_id, summary["sensor_id"].tolist()) or default_sensor(summary)
    if sensor_id is None:
        return options, None, figs.empty("No sensors at this site"), None, None
    view = page_items.drift_chart(result, sensor_id)
    row, figure, params = view.sensor, view.figure, result.parameters
    lead = (f"The warning came {row['lead_time_days']:.1f} days before the first action-level excursion "
            f"({row['first_action_at']:%Y-%m-%d %H:%M} UTC)." if pd.notna(row["lead_time_days"]) else
            ("No warning stood before the action-level excursion." if row["action_excursions"] else ""))
    adjusted = (f"Adjusted for the site's common mode (median of {row['n_peers']} other {row['parameter']} sensors)."
                if row["n_peers"] else "Not adjusted: fewer than 2 other sensors of this parameter at the site.")
    text = html.P([
        html.Strong(lead + " ") if lead else None,
        f"Baseline {result.baseline_start:%Y-%m-%d} to {result.baseline_end:%Y-%m-%d} (the "
        f"{params.baseline_days} days before the window); {params.describe()}. {adjusted}",
    ], className="small", id="signals-drift-lead")
    return options, sensor_id, figure, text, sensor_table(summary)


def default_sensor(summary: pd.DataFrame) -> str | None:
    """The most telling sensor: one whose warning preceded an action excursion, then one warning now."""
    if summary.empty:
        return None
    for mask in (summary["lead_time_days"].notna(), summary["status"] == "warning", summary["action_excursions"] > 0):
        if mask.any():
            return str(summary.loc[mask, "sensor_id"].iloc[0])
    return str(summary["sensor_id"].iloc[0])


def sensor_table(summary: pd.DataFrame):
    frame = summary.assign(_later=summary["status"] != "warning").sort_values(["_later", "sensor_id"], kind="stable")
    frame = frame.assign(
        since=frame["warning_since"].map(lambda t: f"{t:%Y-%m-%d}" if pd.notna(t) else "–"),
        lead=frame["lead_time_days"].map(lambda d: f"{d:.1f} days" if pd.notna(d) else "–"),
        excursions_text=[f"{e} ({a} action)" for e, a in zip(frame["excursions"], frame["action_excursions"],
                                                              strict=True)])
    return table(frame, {"sensor_id": "Sensor", "parameter": "Parameter", "room_name": "Room", "status": "Status",
                         "since": "Warning since", "excursions_text": "Excursions in window",
                         "lead": "Lead time before action excursion"},
                 "signals-drift-sensors", "No sensors.", cell=lambda c, v, r: badge(v) if c == "status" else v)


# --- systemic ----------------------------------------------------------------------------------------
@callback(
    Output(ids.SIG_SYSTEMIC, "children"),
    Input(ids.SIG_WINDOW, "value"),
    Input(ids.SIG_SYSTEMIC_WINDOW, "value"),
    Input(ids.SIG_SYSTEMIC_ALL, "value"),
)
def systemic(days, window_days, show_all):
    scope = context.scope(days, PAGE)
    # A window that is not an integer is 0 here, which systemic_signals replaces by its default.
    result = signals.systemic_signals(context.warehouse(), scope, inputs.as_int(window_days, 0))
    clusters = result.clusters
    flagged = clusters["flagged"].astype(bool) if len(clusters) else pd.Series(dtype=bool)
    shown = clusters if "all" in (inputs.as_str_list(show_all) or []) else clusters[flagged]
    hidden = len(clusters) - len(shown)
    intro = html.P([
        f"{len(clusters)} clusters within {result.window_days} days in this window; ",
        html.Strong(f"{int(flagged.sum())} flagged"),
        f": tied to an SOP that is behind the master version at two or more of the sites, or less likely by "
        f"chance than p = {result.threshold:.4f} (5 % shared over the causes and SOPs scanned), given each "
        "one's rate over the previous year",
        f". {hidden} more, consistent with chance, are hidden." if hidden else ".",
    ], className="small")
    by_cluster = dict(tuple(result.deviations.groupby("cluster_id", sort=False)))
    cards = [cluster_card(c, by_cluster.get(c.cluster_id, result.deviations.iloc[0:0]))
             for c in shown.itertuples(index=False)]
    return [intro, *cards] if cards else [intro, html.P("No cross-site clusters.", className="text-body-secondary")]


def cluster_card(c, deviations: pd.DataFrame) -> dbc.Card:
    behind = len(c.sop_behind_sites) + c.sop_behind_other_sites
    notes = [html.Span(f"{c.n_deviations} deviations at {c.n_sites} sites, {c.first_at:%Y-%m-%d} to "
                       f"{c.last_at:%Y-%m-%d}", className="me-3"),
             html.Span(proposals.chance_text(c), className="me-3")]
    if behind >= 2:
        where = ", ".join(c.sop_behind_sites) + (f" and {c.sop_behind_other_sites} other site(s)"
                                                 if c.sop_behind_other_sites else "")
        notes.append(html.Span([html.Span("▲ ", **{"aria-hidden": "true"}),
                                f"procedure-linked: {', '.join(c.sops)} behind the master version at {where}"],
                               className="status-off fw-semibold"))
    columns = []
    for site in c.sites:
        rows = deviations[deviations["site_id"] == site]
        columns.append(dbc.Col([html.H4(site, className="h6"), html.Ul([
            html.Li([html.Strong(record_link("deviation", r.deviation_id)),
                     f" · {pd.Timestamp(r.occurred_at):%Y-%m-%d %H:%M} · {r.severity} · "
                     f"{r.root_cause_code} · {r.sop_id}", html.Br(), html.Span(r.description, className="small")])
            for r in rows.itertuples(index=False)], className="list-unstyled mb-0")], md=True))
    if c.other_sites:
        columns.append(dbc.Col([html.H4(f"{c.other_sites} other site{'s' if c.other_sites > 1 else ''}",
                                        className="h6"),
                                html.P("Outside your scope: counted, not shown.", className="small text-body-secondary")],
                               md=True))
    return dbc.Card(dbc.CardBody([
        html.H3(c.key, className="h6 mb-1"), html.P(notes, className="small mb-2"), dbc.Row(columns, className="g-3"),
    ]), className="mb-2 systemic-cluster", id={"type": "systemic-cluster", "cluster": c.cluster_id})
