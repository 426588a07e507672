"""Tiles and tables of the people page: protected frames in, components out (no queries here)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from dashboard.components.formatting import is_missing
from queries.kpi.catalog import NETWORK
from queries.stats.correlation import fisher_interval
from queries.stats.survey import alpha_label


def survey_tile(title: str, wave, row: pd.Series | None, what: str) -> dbc.Card:
    if row is None:
        value, detail, css = "no data", f"no answers in wave {wave}", "status-none"
    elif bool(row["suppressed"]):
        value, detail, css = "suppressed", "fewer than 5 respondents, or recoverable by subtraction", "status-none"
    elif what == "index":
        value = f"{row['index_0_100']:.0f} / 100"
        detail, css = f"{row['score_1_7']:.2f} on the 1-7 scale · n = {int(row['respondents'])}", "status-ok"
    else:
        alpha = row["alpha"]
        value = "–" if is_missing(alpha) else f"{alpha:.2f}"
        detail, css = f"{alpha_label(alpha)} internal consistency · n = {int(row['respondents'])}", "status-ok"
    return dbc.Card(dbc.CardBody([
        html.Div(title, className="tile-title"),
        html.Div(value, className="tile-value", **{"aria-label": f"{title}: {value}"}),
        html.Div([f"wave {wave} · ", detail], className="tile-target"),
    ]), className=f"kpi-tile people-tile h-100 {css}-border")


def alpha_table(groups: pd.DataFrame, selected: str) -> dbc.Table:
    level = "network" if selected == NETWORK else "site"
    rows = groups[(groups["level"] == level) & (groups["site_id"] == selected)].sort_values("wave", ascending=False)
    body = []
    for row in rows.itertuples(index=False):
        if row.suppressed:
            cells = [row.wave, "suppressed", "–", "–"]
        else:
            cells = [row.wave, f"{int(row.respondents)}", "–" if is_missing(row.alpha) else f"{row.alpha:.2f}",
                     alpha_label(row.alpha)]
        body.append(html.Tr([html.Td(c) for c in cells]))
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in ("Wave", "Respondents", "Alpha", "Reading")]))
    return dbc.Table([head, html.Tbody(body)], size="sm", hover=True, className="people-alpha",
                     id="people-alpha-table")


# -- behaviour, training, SOP load -----------------------------------------------------------------
def coaching_table(coaching: pd.DataFrame, names: dict[str, str], lookback: int):
    if coaching.empty:
        return html.P("No coaching programme at the sites shown.", className="text-body-secondary",
                      id="people-coaching-table")
    periods = {"before": "365 days before the start", "transition": f"first {lookback} days",
               "after": f"from day {lookback} on"}
    body = []
    for row in coaching.itertuples(index=False):
        body.append(html.Tr([
            html.Td(html.Abbr(row.site_id, title=names.get(row.site_id, row.site_id))),
            html.Td(f"{pd.Timestamp(row.started_at):%Y-%m-%d}"),
            html.Td(periods[row.period]),
            html.Td(f"{row.recurrence_pct:.0f} %", className="fw-semibold"),
            html.Td(f"{row.recurred} of {row.deviations}"),
        ], id={"type": "people-coaching-row", "site": row.site_id, "period": row.period}))
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in
                               ("Site", "Coaching starts", "Period", "Recurrence", "Recurred / deviations")]))
    note = html.P(f"Recurrence: an earlier deviation with the same root cause at the same site within {lookback} "
                  "days. In the first days after the start a recurrence may repeat a cause from before it.",
                  className="small text-body-secondary")
    return html.Div([dbc.Table([head, html.Tbody(body)], size="sm", hover=True, id="people-coaching-table"),
                     note])


def rho_text(rho: pd.DataFrame, min_n: int = 5) -> str:
    if not rho.empty and bool(rho.iloc[0].get("suppressed", False)):
        return f"suppressed (fewer than {min_n} operators)"
    if rho.empty or is_missing(rho.iloc[0]["value"]):
        n = 0 if rho.empty else int(rho.iloc[0]["n"])
        return f"not computable (n = {n} operators)"
    row = rho.iloc[0]
    low, high = row["ci_low"], row["ci_high"]
    if is_missing(low):
        low, high = fisher_interval(row["value"], int(row["n"]))
    interval = "no interval (n < 4)" if is_missing(low) else f"95 % CI {low:+.2f} to {high:+.2f}"
    return f"ρ = {row['value']:+.2f} · {interval} · n = {int(row['n'])} operators"


def module_table(modules: pd.DataFrame, selected: str, note: str = ""):
    """Rows arrive protected (queries.analyses.people.training_modules): a suppressed group says so, with no number."""
    mine = modules[modules["site_id"] == selected].set_index("module")
    network = modules[modules["site_id"] == NETWORK].set_index("module")
    if mine.empty:
        return html.P("No training activity in this window.", className="text-body-secondary",
                      id="people-module-table")
    with_network = selected != NETWORK and not network.empty
    head = ["Module", "First-attempt pass", "Time to competency (median)"]
    if with_network:
        head += ["Network pass", "Network time"]
    body = []
    for module, row in mine.iterrows():
        cells = [module, first_pass_text(row), competency_text(row)]
        if with_network and module in network.index:
            cells += [first_pass_text(network.loc[module]), competency_text(network.loc[module])]
        elif with_network:
            cells += ["–", "–"]
        body.append(html.Tr([html.Td(c) for c in cells]))
    table = dbc.Table([html.Thead(html.Tr([html.Th(h, scope="col") for h in head])), html.Tbody(body)],
                      size="sm", hover=True, responsive=True, id="people-module-table")
    if not (mine["suppressed"].any() or (with_network and network["suppressed"].any())):
        return table
    return html.Div([table, html.P(note, className="small text-body-secondary", id="people-module-note")])


def first_pass_text(row) -> str:
    if bool(row.get("suppressed", False)):
        return "suppressed"
    if not row["first_attempts"]:
        return "–"
    return f"{row['first_pass_pct']:.0f} % ({int(row['first_passed'])}/{int(row['first_attempts'])})"


def competency_text(row) -> str:
    if bool(row.get("suppressed", False)):
        return "suppressed"
    if is_missing(row["median_days"]):
        return "–"
    return f"{row['median_days']:.0f} days (n = {int(row['certifications'])})"
