"""The pieces every record page is made of: a facts list, a table whose cells may be links, the way
back to the site, and the "not found" answer (the same for a forged, foreign or unknown id)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from dashboard import context
from queries.engine.scope import NotFound


def record_layout(page: str, kind: str, read, record_id, render):
    """A record page's layout: refused for a role without the page, "not found" for an id outside the
    reader's scope (or none at all), else ``render(read(warehouse, scope, record_id))``."""
    if not context.allowed(page):
        return context.denied_page()
    try:
        record = read(context.warehouse(), context.scope(None, page), record_id)
    except NotFound:
        return not_found(kind, record_id)
    return render(record)


def facts(items: list[tuple[str, object]], element_id: str) -> html.Dl:
    """Label / value pairs as a description list (two columns on wide screens)."""
    children = []
    for label, value in items:
        children += [html.Dt(label, className="col-sm-3 col-lg-2"), html.Dd(value, className="col-sm-9 col-lg-4")]
    return html.Dl(children, className="row record-facts", id=element_id)


def record_table(frame: pd.DataFrame, columns: dict[str, str], table_id: str, empty: str):
    """``columns``: frame column -> header; a cell may hold a component (a record link)."""
    if frame.empty:
        return html.P(empty, className="text-body-secondary", id=table_id)
    head = html.Thead(html.Tr([html.Th(label, scope="col") for label in columns.values()]))
    body = html.Tbody([html.Tr([html.Td(row[c]) for c in columns]) for _, row in frame.iterrows()])
    return dbc.Table([head, body], size="sm", hover=True, responsive=True, className="align-middle", id=table_id)


def site_link(site_id: str, site_name: str) -> html.Div:
    return html.Div(dcc.Link(f"← {site_name} ({site_id})", href=f"/site/{site_id}", className="small",
                             id="record-site-link"))


def not_found(kind: str, record_id) -> html.Div:
    return html.Div([html.H1(f"{kind.capitalize()} not found", className="h3"),
                     html.P(f"There is no {kind} {str(record_id)[:120]!r} you may open."),
                     dcc.Link("Back to the network overview", href="/")], id="record-not-found")
