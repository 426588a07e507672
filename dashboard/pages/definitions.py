"""KPI definitions, rendered from the catalogue: every tile links here (#kpi-<id>)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from dashboard import context, data
from dashboard.components.formatting import format_target
from queries.kpi import catalog
from queries.kpi.kpis import kpi_sql

dash.register_page(__name__, path="/definitions", name="KPI definitions", nav=True, order=90,
                   title="KPI definitions · ATMP Quality Hub")


def layout(**_):
    if not context.allowed("/definitions"):
        return context.denied_page()
    return html.Div([
        html.H1("KPI definitions", className="h3"),
        html.P("Every number on the hub comes from one entry of this catalogue. Network values are the "
               "sum of numerators over the sum of denominators, never an average of site rates.",
               className="lead"),
        html.P("A status (✓ on target, ! near target: within 10 % of it on the wrong side, ✕ off target, "
               "○ no target set) is decided on the value as shown, rounded to the KPI's decimals, so one "
               "printed number never carries two statuses.", className="small"),
        *[definition_card(data.kpi_text(k)) for k in catalog.CATALOG],
    ], id="definitions")


def definition_card(kpi: catalog.Kpi) -> dbc.Card:
    facts = [
        ("Definition", kpi.definition),
        ("Formula", kpi.formula),
        ("Time window applies to", kpi.window),
        ("Unit", kpi.unit),
        ("Better when", kpi.better),
        ("Target", format_target(kpi)),
        ("Source", kpi.source),
        ("Reads", ", ".join(f"queries/{name}.sql" for name in kpi.queries)),
    ]
    if kpi.compute:
        module, function = kpi.compute.split(":")
        facts.append(("Computed by", f"{function} in {module.replace('.', '/')}.py"))
    return dbc.Card(dbc.CardBody([
        html.H2([kpi.title, " ", html.Small("headline KPI", className="badge text-bg-secondary")
                 if kpi.headline else None], className="h5"),
        html.Dl([item for label, text in facts for item in (html.Dt(label), html.Dd(text))],
                className="row-dl"),
        html.Details([html.Summary("How is this calculated (the SQL it reads)"), html.Pre(kpi_sql(kpi.id),
                                                                             className="sql")]),
    ]), id=f"kpi-{kpi.id}", className="mb-3 definition")
