"""User list for administrators (user changes go through `atmp-hub users add` and are audited)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from dashboard import context

dash.register_page(__name__, path="/admin/users", name="Users", nav=True, order=95,
                   title="Users · ATMP Quality Hub")


def layout(**_):
    if not context.allowed("/admin/users"):
        return context.denied_page()
    users = context.warehouse().query("sql/users_list")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in ("User", "Name", "Role", "Site", "Active")]))
    body = html.Tbody([html.Tr([html.Td(r.user_id), html.Td(r.display_name), html.Td(r.role),
                                html.Td(r.site_id or "–"), html.Td("✓ yes" if r.active else "✕ no")])
                       for r in users.itertuples()])
    return html.Div([html.H1("Users", className="h3"),
                     dbc.Table([head, body], size="sm", hover=True, id="users-table")])
