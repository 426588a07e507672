"""People (/people): psychological safety by site, team and wave; behaviour around deviations; training
and competency; SOP cognitive load.

Every callback rebuilds the scope from the logged-in user. Survey values come from
queries.analyses.people.survey_groups, already protected (groups under 5 and groups recoverable by subtraction
are suppressed); the site, team and wave sent by the browser only pick rows of that protected frame."""

from __future__ import annotations

import logging
from datetime import timedelta

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, callback, dcc, html

from dashboard import context, data, ids
from dashboard.components import export, people_tables
from dashboard.components import people_figures as pf
from dashboard.components.controls import window_selector
from dashboard.components.formatting import utc_label
from queries.analyses import people
from queries.engine.scope import NotFound, Scope
from queries.kpi import catalog
from queries.kpi.catalog import NETWORK

logger = logging.getLogger(__name__)

PAGE = "/people"
HISTORY_DAYS = 730  # quarterly behaviour charts look back two years, whatever the window
MIN_SOP_EXECUTIONS = 20  # fewer executions: a rate per 1,000 is noise, so the SOP is left out
TOP_SOPS = 12

dash.register_page(__name__, path=PAGE, name="People", nav=True, order=40,
                   title="People · ATMP Quality Hub")
# Exports (CSV/XLSX/PNG/SVG/PDF with provenance, audited) go through the shared registry: the survey
# item is queries.analyses.people.survey_export of the same protected frame (dashboard/exports/sources.py).
export.register("people", window_id=ids.PPL_WINDOW)

GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


# -- layout ----------------------------------------------------------------------------------------
def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    full = context.scope(None, PAGE)
    sites = data.sites(full)
    groups = _survey(full)
    waves = sorted(groups["wave"].unique(), reverse=True)
    default_site = NETWORK if full.role != "site_manager" else (full.site_ids[0] if full.site_ids else NETWORK)
    return html.Div([
        html.Div([
            html.H1("People: culture, behaviour and training", className="h3 mb-0"),
            window_selector(ids.PPL_WINDOW, context.settings().default_window_days),
        ], className="d-flex flex-wrap justify-content-between align-items-center gap-3 mb-2"),
        html.P(id=ids.PPL_AS_OF, className="as-of text-body-secondary"),
        html.Div([
            html.Label("Site", htmlFor=ids.PPL_SITE, className="fw-semibold me-2"),
            dcc.Dropdown(id=ids.PPL_SITE, options=_site_options(full, sites), value=default_site,
                         clearable=False, className="people-site-select"),
        ], className="d-flex align-items-center gap-2 mb-3"),
        html.Section([
            html.H2("Psychological safety", className="h4 mt-2"),
            html.P(["Edmondson's (1999) 7-item team psychological safety scale, answered anonymously each "
                    "quarter. Items 1, 3 and 5 are negatively worded and reverse-scored (8 − answer); a "
                    "respondent's score is the mean of the seven, a group's index the mean of its respondents, "
                    "shown on 0-100 as (score − 1) / 6 × 100. ",
                    html.Strong("Any group with fewer than 5 respondents is suppressed everywhere"),
                    ", and so is any group that could be worked out by subtracting shown groups from a total "
                    "(for example a site minus its other teams)."], className="section-lead"),
            html.Div([
                html.Div([html.Label("Survey wave", htmlFor=ids.PPL_WAVE, className="fw-semibold"),
                          dcc.Dropdown(id=ids.PPL_WAVE, options=[{"label": w, "value": w} for w in waves],
                                       value=waves[0] if waves else None, clearable=False)],
                         className="people-filter"),
                html.Div([html.Label("Teams", htmlFor=ids.PPL_TEAMS, className="fw-semibold"),
                          dcc.Dropdown(id=ids.PPL_TEAMS, multi=True, placeholder="choose a site to filter teams")],
                         className="people-filter people-filter-wide"),
            ], className="d-flex flex-wrap gap-3 mb-3"),
            dcc.Loading(html.Div(id=ids.PPL_SURVEY), type="dot"),
            html.Div([
                export.export_menu("people", "survey", label="Export survey table or chart"),
                html.Span(" Suppressed groups stay suppressed in every export.", className="small ms-2"),
            ], className="mt-2 d-flex align-items-center"),
        ], className="people-section"),
        dcc.Loading(html.Section(id=ids.PPL_BEHAVIOUR, className="people-section"), type="dot"),
        dcc.Loading(html.Section(id=ids.PPL_TRAINING, className="people-section"), type="dot"),
        dcc.Loading(html.Section(id=ids.PPL_SOP, className="people-section"), type="dot"),
    ], id="people-page")


def _site_options(full: Scope, sites: pd.DataFrame) -> list[dict]:
    network_label = "Network (anonymised aggregate)" if full.role == "site_manager" else "Network (all sites)"
    options = [{"label": network_label, "value": NETWORK}] if full.network else []
    return options + [{"label": f"{r.name} ({r.site_id})", "value": r.site_id} for r in sites.itertuples()]


# -- server-side helpers (scope first, always) -----------------------------------------------------
def _survey(full: Scope) -> pd.DataFrame:
    return people.survey_groups(context.warehouse(), full, min_n=context.settings().min_survey_respondents)


def _selected(full: Scope, site_id) -> str:
    """The site the browser asked for, if the scope allows it; NETWORK if allowed; NotFound otherwise."""
    if site_id == NETWORK and full.network:
        return NETWORK
    full.for_site(site_id)  # raises NotFound for anything outside the scope, forged or not
    return site_id


def _names(full: Scope) -> dict[str, str]:
    sites = data.sites(full)
    return dict(zip(sites["site_id"], sites["name"], strict=True))


def _not_found(site_id) -> html.Div:
    return html.Div([html.H2("Site not found", className="h5"),
                     html.P(f"There is no site {site_id!r} you may open.")], id="people-not-found")


# -- psychological safety --------------------------------------------------------------------------
@callback(
    Output(ids.PPL_TEAMS, "options"),
    Output(ids.PPL_TEAMS, "value"),
    Input(ids.PPL_SITE, "value"),
)
def team_options(site_id):
    full = context.scope(None, PAGE)
    try:
        selected = _selected(full, site_id)
    except NotFound:
        return [], []
    if selected == NETWORK:
        return [], []
    teams = people.teams_in_scope(_survey(full), selected)
    return [{"label": t, "value": t} for t in teams], teams


@callback(
    Output(ids.PPL_SURVEY, "children"),
    Input(ids.PPL_SITE, "value"),
    Input(ids.PPL_TEAMS, "value"),
    Input(ids.PPL_WAVE, "value"),
)
def survey_section(site_id, teams, wave):
    full = context.scope(None, PAGE)
    try:
        selected = _selected(full, site_id)
    except NotFound:
        return _not_found(site_id)
    groups = _survey(full)  # protected over the whole scope before anything is picked from it
    names = _names(full)
    label = "Network" if selected == NETWORK else f"{names[selected]} ({selected})"
    team_list = teams if isinstance(teams, list) else []
    wave = wave if isinstance(wave, str) else None  # the browser's wave only ever picks a row
    psych = catalog.get("psych_safety")
    above_team = groups[groups["level"] != "team"]
    site_chart = pf.index_by_wave(above_team, "site", names, psych.target,
                                  "Index by survey wave: network and sites" if full.role != "site_manager"
                                  else "Index by survey wave: your site and the network",
                                  highlight=None if selected == NETWORK else selected)
    body = [dbc.Row(_survey_tiles(groups, selected, label, wave), className="g-3 mb-3"),
            dcc.Graph(figure=site_chart, id="people-index-sites", config=GRAPH_CONFIG)]
    if selected != NETWORK:
        team_rows = people.select_groups(groups, site_id=selected, teams=team_list)
        team_rows = team_rows[team_rows["level"] == "team"]
        if team_rows.empty:
            body.append(html.P("No team chosen (or no team answered).", className="text-body-secondary"))
        else:
            body.append(dcc.Graph(figure=pf.index_by_wave(team_rows, "team", names, psych.target,
                                                          f"Index by survey wave: teams at {selected}"),
                                  id="people-index-teams", config=GRAPH_CONFIG))
    items = people.survey_items(context.warehouse(), full, groups,
                                min_n=context.settings().min_survey_respondents)
    chosen = items[(items["level"] != "team") & (items["site_id"] == selected) & (items["wave"] == wave)]
    short = "Network" if selected == NETWORK else selected
    body.append(dbc.Row([
        dbc.Col(dcc.Graph(figure=pf.item_distribution(chosen, f"Scored answers per item · {short} · {wave}"),
                          id="people-items", config=GRAPH_CONFIG), lg=7),
        dbc.Col([html.H3("Reliability (Cronbach's alpha) per wave", className="h6 mt-3"),
                 people_tables.alpha_table(groups, selected)], lg=5),
    ], className="g-3"))
    return body


def _row(groups: pd.DataFrame, level: str, site_id: str, wave) -> pd.Series | None:
    rows = groups[(groups["level"] == level) & (groups["site_id"] == site_id) & (groups["wave"] == wave)]
    return None if rows.empty else rows.iloc[0]


def _survey_tiles(groups: pd.DataFrame, selected: str, label: str, wave) -> list:
    level = "network" if selected == NETWORK else "site"
    mine = _row(groups, level, selected, wave)
    tiles = [dbc.Col(people_tables.survey_tile(f"Psychological safety · {label}", wave, mine, "index"), md=4),
             dbc.Col(people_tables.survey_tile(f"Cronbach's alpha · {label}", wave, mine, "alpha"), md=4)]
    if selected != NETWORK:
        network = _row(groups, "network", NETWORK, wave)
        tiles.append(dbc.Col(people_tables.survey_tile("Psychological safety · network", wave, network, "index"),
                             md=4))
    return tiles


@callback(
    Output(ids.PPL_BEHAVIOUR, "children"),
    Output(ids.PPL_TRAINING, "children"),
    Output(ids.PPL_SOP, "children"),
    Output(ids.PPL_AS_OF, "children"),
    Input(ids.PPL_WINDOW, "value"),
    Input(ids.PPL_SITE, "value"),
)
def window_sections(days, site_id):
    full = context.scope(days, PAGE)
    days = context.window_days(days)
    try:
        selected = _selected(full, site_id)
    except NotFound:
        return _not_found(site_id), None, None, ""
    names = _names(full)
    label = "Network" if selected == NETWORK else f"{names[selected]} ({selected})"
    as_of = (f"Window: {full.start:%Y-%m-%d} to {full.end:%Y-%m-%d %H:%M} UTC (deviations, training, SOPs) · "
             f"survey waves up to the window end · quarterly trends: the last {HISTORY_DAYS // 365} years · "
             f"data as of {utc_label(data.data_as_of())}")
    short = "Network" if selected == NETWORK else selected
    return (behaviour(full, selected, short, names), training(full, selected, label, short, days),
            sop_section(full, selected, short), as_of)


def behaviour(full: Scope, selected: str, label: str, names: dict[str, str]) -> list:
    wh = context.warehouse()
    lookback = context.settings().recurrence_window_days
    factors = people.human_factors(wh, full)
    if selected != NETWORK:
        factors = factors[factors["site_id"].isin([selected, NETWORK])]
    history = full.with_window(full.end - timedelta(days=HISTORY_DAYS), full.end)
    quarters = people.quarterly_behaviour(wh, history, lookback_days=lookback)
    quarters = quarters[quarters["site_id"] == selected]
    coaching = people.programme_recurrence(wh, full, lookback_days=lookback)
    coaching = coaching[coaching["kind"] == "coaching_review"]
    if selected != NETWORK:
        coaching = coaching[coaching["site_id"] == selected]
    starts = coaching.drop_duplicates("programme_id")
    return [
        html.H2("Behaviour around deviations", className="h4 mt-4"),
        dbc.Row([
            dbc.Col(dcc.Graph(figure=pf.human_factors(factors, names), id="people-human-factors",
                              config=GRAPH_CONFIG), lg=6),
            dbc.Col([html.H3("Recurrence before and after coaching-based deviation review", className="h6 mt-3"),
                     people_tables.coaching_table(coaching, names, lookback)], lg=6),
        ], className="g-3"),
        dbc.Row([
            dbc.Col(dcc.Graph(figure=pf.recurrence_by_quarter(quarters, label, starts), id="people-recurrence",
                              config=GRAPH_CONFIG), lg=6),
            dbc.Col(dcc.Graph(figure=pf.near_miss_and_deviation_rate(quarters, label, starts),
                              id="people-near-miss", config=GRAPH_CONFIG), lg=6),
        ], className="g-3"),
        dbc.Alert([
            html.Strong("Reading these together. "),
            "A rising near-miss rate beside a falling deviation rate is a good sign: people report the small "
            "slips before they become deviations. ",
            html.Strong("Correlation is not causation: "),
            "lines that move together, or a change after a programme starts, do not prove that one caused the "
            "other (other changes, seasonality and chance can do the same).",
        ], color="light", className="people-caveat", id="people-behaviour-caveat"),
    ]


def training(full: Scope, selected: str, label: str, short: str, days: int) -> list:
    wh = context.warehouse()
    min_n = context.settings().min_survey_respondents  # operator groups follow the survey's minimum
    modules = people.training_modules(wh, full, min_n=min_n)
    rho_rows = people.training_performance_by_site(wh, full, min_n=min_n)
    rho_rows["site_id"] = rho_rows["site_id"].astype(object).where(rho_rows["site_id"].notna(), NETWORK)
    rho = rho_rows[rho_rows["site_id"] == selected]
    operators = people.operator_performance(wh, full, min_n=min_n)
    if selected != NETWORK:
        operators = operators[operators["site_id"] == selected]
    elif full.role == "site_manager":  # the network is an aggregate for a site manager: no operators
        operators = operators.iloc[0:0]
    return [
        html.H2("Training and competency", className="h4 mt-4"),
        dbc.Row([
            dbc.Col([html.H3(f"Per module · {label} (last {days} days)", className="h6 mt-3"),
                     people_tables.module_table(modules, selected, people.operators_note(min_n))], lg=7),
            dbc.Col([
                html.H3("Training-to-performance correlation", className="h6 mt-3"),
                html.P(people_tables.rho_text(rho, min_n), className="fs-5 fw-semibold", id="people-rho"),
                dcc.Graph(figure=pf.operator_scatter(operators, f"Operators · {short}",
                                                     _scatter_message(rho, min_n)),
                          id="people-operators", config=GRAPH_CONFIG),
                html.P("Spearman's ρ between each operator's mean first-attempt certification score and the "
                       "deviations they were involved in during the window (operators in training before the "
                       "window); 95 % interval by Fisher's z. Operators appear only by pseudonymous reference. "
                       "Correlation is not causation.", className="small text-body-secondary"),
            ], lg=5),
        ], className="g-3"),
    ]


def _scatter_message(rho: pd.DataFrame, min_n: int) -> str:
    if not rho.empty and bool(rho.iloc[0]["suppressed"]):
        return f"Suppressed: fewer than {min_n} operators."
    return "No operators with training before this window."


def sop_section(full: Scope, selected: str, label: str) -> list:
    load = people.sop_load(context.warehouse(), full)
    load = load[(load["site_id"] == selected) & (load["executions"] >= MIN_SOP_EXECUTIONS)
                & (load["deviations"] > 0)]
    top = load.sort_values(["per_1000_executions", "deviations"], ascending=False).head(TOP_SOPS)
    return [
        html.H2("SOP cognitive load", className="h4 mt-4"),
        html.P("Deviations raised against each SOP per 1,000 times it was executed, over the calendar months "
               "overlapping the window: the procedures that overwhelm operators stand out even when they are "
               f"run rarely. SOPs executed fewer than {MIN_SOP_EXECUTIONS} times are left out (too few to rate).",
               className="section-lead"),
        dcc.Graph(figure=pf.sop_load(top, f"Deviations per 1,000 executions · {label} (top {TOP_SOPS})"),
                  id="people-sop-load", config=GRAPH_CONFIG),
    ]
