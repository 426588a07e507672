"""One site's live monitoring (/monitoring/<site_id>): live values per room against alert/action
bands, the trend of a sensor from rollups, the excursion list with product impact, and the
acknowledgement form (electronic signature). Times in the site's zone."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import auth, context, data, ids, inputs, page_items
from dashboard.components import export
from dashboard.components.excursion_list import ack_done, ack_form, ack_options, ack_refused, excursion_table
from dashboard.components.formatting import to_local
from dashboard.components.live_tiles import room_cards
from dashboard.components.trend_chart import trend_figure
from queries.analyses import monitoring
from queries.engine.scope import NotFound

PAGE = "/monitoring/<site_id>"
dash.register_page(__name__, path_template=PAGE, name="Site monitoring",
                   title="Site monitoring · ATMP Quality Hub")
ROLE_LABELS = {"leadership": "quality leadership", "site_manager": "site manager"}
LIVE_WINDOWS = ("6h", "24h")  # windows short enough to redraw on every tick
# The sensor trend and the excursion history export for this site only (never for the display role),
# rebuilt from the server-side scope (dashboard/exports/sources.py, items of page "monitoring_site").
export.register("monitoring_site", site_store_id=ids.MON_SITE_ID,
                selections={"sensor": ids.MON_TREND_SENSOR, "trend_window": ids.MON_TREND_WINDOW})


def layout(site_id=None, **_):
    if not context.allowed(PAGE):
        return context.denied_page()
    try:
        scope = context.scope(None, PAGE).for_site(site_id)
    except NotFound:
        return not_found(site_id)
    cfg = context.settings()
    site = data.sites(scope).iloc[0]
    sensors = page_items.site_sensors(scope)
    options = [{"label": f"{r['room_name']} · {monitoring.PARAMETER_LABELS.get(r['parameter'], r['parameter'])}",
                "value": r["sensor_id"]} for r in sensors.to_dict("records")]
    # Open the trend on what matters now: an open excursion, else a sensor with live data.
    ranked = sensors.assign(order=sensors["open_level"].fillna(0) * -10 - sensors["latest_ts"].notna())
    default_sensor = ranked.sort_values("order", kind="stable")["sensor_id"].iloc[0] if not sensors.empty else None
    user = context.user()
    can_ack = monitoring.may_acknowledge(user.role, user.site_id, site_id)
    form = ack_form(user.display_name, ROLE_LABELS.get(user.role, user.role))
    return html.Div([
        dcc.Store(id=ids.MON_SITE_ID, data=site_id),
        dcc.Interval(id=ids.MON_TICK, interval=cfg.monitoring_refresh_s * 1000),
        html.Div([dcc.Link("← Monitoring overview", href="/monitoring", className="small"),
                  html.H1(f"Environmental monitoring: {site['name']} ({site_id})", className="h3 mb-0",
                          id="monitoring-title")]),
        html.P(id=ids.MON_AS_OF, className="as-of text-body-secondary"),
        html.H2("Live values", className="h5"),
        html.Div(id=ids.MON_LIVE, **{"aria-live": "polite"}),
        html.H2("Trend", className="h5 mt-4"),
        dbc.Row([
            dbc.Col([dbc.Label("Sensor", html_for=ids.MON_TREND_SENSOR),
                     dcc.Dropdown(id=ids.MON_TREND_SENSOR, options=options, clearable=False,
                                  value=default_sensor)], md=6),
            dbc.Col([dbc.Label("Window", html_for=ids.MON_TREND_WINDOW),
                     dbc.RadioItems(id=ids.MON_TREND_WINDOW, inline=True, value=monitoring.DEFAULT_TREND_WINDOW,
                                    options=[{"label": w, "value": w} for w in monitoring.TREND_WINDOWS])], md=6),
        ], className="mb-2"),
        export.export_menu("monitoring_site", "trend", label="Export trend"),
        dcc.Graph(id=ids.MON_TREND, config={"displaylogo": False}),
        html.H2(f"Excursions (open, and the last {monitoring.EXCURSION_LIST_DAYS} days)", className="h5 mt-4"),
        export.export_menu("monitoring_site", "excursions", label="Export excursion history"),
        html.Div(id=ids.MON_EXCURSIONS),
        # The form exists for every role (its dropdown is refreshed by the tick), but is shown only to
        # those who may sign here; the server checks every submission regardless.
        html.Div(form, hidden=not can_ack, id="ack-section"),
        html.P("Excursions here are acknowledged by quality leadership or this site's manager.",
               className="small text-body-secondary mt-3", hidden=can_ack),
    ])


def not_found(site_id) -> html.Div:
    return html.Div([html.H1("Site not found", className="h3"),
                     html.P(f"There is no site {site_id!r} you may open."),
                     dcc.Link("Back to monitoring", href="/monitoring")], id="monitoring-not-found")


@callback(
    Output(ids.MON_LIVE, "children"),
    Output(ids.MON_EXCURSIONS, "children"),
    Output(ids.MON_AS_OF, "children"),
    Output(ids.MON_ACK_EXCURSION, "options"),
    Input(ids.MON_TICK, "n_intervals"),
    State(ids.MON_SITE_ID, "data"),
)
def refresh(_n, site_id):
    # site_id comes from the browser: it only narrows the server-built scope.
    try:
        scope = context.scope(None, PAGE).for_site(site_id)
    except NotFound:
        return not_found(site_id), None, "", []
    wh, cfg, now = context.warehouse(), context.settings(), context.now()
    tz = data.sites(scope).iloc[0]["timezone"]
    live = monitoring.live_values(wh, scope, now, cfg.stale_after_s)
    exc = page_items.excursion_history(scope, now)
    latest = pd.to_datetime(live["latest_ts"]).max()
    never = int(live["latest_ts"].isna().sum())
    stale = int(live["stale"].sum()) - never
    as_of = (f"Live data as of {to_local(latest, tz) if pd.notna(latest) else 'no live data yet'} · refreshed "
             f"{to_local(now, tz)} · times in {tz} · {len(live) - stale - never} of {len(live)} sensors reporting, "
             f"{stale} stale (silent more than {cfg.stale_after_s} s), {never} without live data")
    show_names = scope.role != "display"
    links = scope.role in context.PAGE_ROLES["/excursion/<excursion_id>"]
    return (room_cards(live, tz), excursion_table(exc, tz, now, show_names=show_names, link_records=links), as_of,
            ack_options(exc, tz))


@callback(
    Output(ids.MON_TREND, "figure"),
    Input(ids.MON_TREND_SENSOR, "value"),
    Input(ids.MON_TREND_WINDOW, "value"),
    Input(ids.MON_TICK, "n_intervals"),
    State(ids.MON_SITE_ID, "data"),
)
def trend(sensor_id, window, _n, site_id):
    window = inputs.one_of(window, monitoring.TREND_WINDOWS, monitoring.DEFAULT_TREND_WINDOW)
    if dash.ctx.triggered_id == ids.MON_TICK and window not in LIVE_WINDOWS:
        raise PreventUpdate  # long windows change too little to redraw every tick
    try:
        scope = context.scope(None, PAGE).for_site(site_id)
    except NotFound:
        return trend_figure(pd.DataFrame(), "hour", {}, pd.DataFrame(), "UTC", "Site not found")
    tz = data.sites(scope).iloc[0]["timezone"]
    view = page_items.sensor_trend(scope, tz, inputs.as_text(sensor_id, 200), window, context.now())
    if view is None:  # not a sensor of this site (or forged): nothing of anyone else's
        return trend_figure(pd.DataFrame(), "hour", {}, pd.DataFrame(), tz, "Choose a sensor of this site")
    return view.figure


@callback(
    Output(ids.MON_ACK_RESULT, "children"),
    Output(ids.MON_ACK_PASSWORD, "value"),
    Output(ids.MON_ACK_COMMENT, "value"),
    Input(ids.MON_ACK_SUBMIT, "n_clicks"),
    State(ids.MON_ACK_EXCURSION, "value"),
    State(ids.MON_ACK_COMMENT, "value"),
    State(ids.MON_ACK_PASSWORD, "value"),
    State(ids.MON_ACK_DEVIATION, "value"),
    prevent_initial_call=True,
)
def acknowledge(n_clicks, excursion_id, comment, password, deviation_decision):
    if not n_clicks:
        raise PreventUpdate
    # Who signs is the server-side user; the browser supplies only the excursion, comment and password.
    scope = context.scope(None, PAGE)
    user = context.user()
    try:
        done = monitoring.acknowledge(context.warehouse(), scope, user_id=user.user_id, role=user.role,
                                      own_site=user.site_id, excursion_id=excursion_id, password=password,
                                      comment=comment, now=context.now(), deviation_decision=deviation_decision,
                                      attempt_allowed=auth.signature_attempts_of(user.user_id),
                                      tell_notified=context.ack_followup_url())
    except monitoring.SignatureRefused as refused:
        return ack_refused(str(refused)), "", dash.no_update
    return ack_done(done), "", ""
