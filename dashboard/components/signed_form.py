"""The pieces every signed administration form shares: reason, the signer's password, the button, the
result line, and how a callback turns a refusal into a message (or a 403 for a non-administrator).

The signature itself is queries/records/esignature.py (through queries/records/administration.py), as for CAPA reviews
and excursion acknowledgements; this module only lays it out and reports its answer."""

from __future__ import annotations

from collections.abc import Callable

import dash_bootstrap_components as dbc
from dash import dcc, html
from werkzeug.exceptions import Forbidden

from queries.records import administration


def card(title: str, form) -> dbc.Col:
    """One form in its own card, two to a row on wide screens. (Not tabs: dash-bootstrap-components 2.0's
    Tabs give every tab the same id and no keyboard focus; axe reports aria-valid-attr-value.)"""
    return dbc.Col(dbc.Card(dbc.CardBody([html.H3(title, className="h6"), form]), className="admin-form h-100"),
                   lg=6)


def signature_fields(*, reason_id: str, signature_id: str, submit_id: str, result_id: str, done_id: str,
                     signer: str, meaning: str, button: str) -> list:
    """Reason, password of the signed-in administrator, submit button, result, and a counter of recorded
    changes (a refresh of the lists listens to it)."""
    return [
        dbc.Label("Reason (required): why this change is made", html_for=reason_id),
        dbc.Textarea(id=reason_id, maxLength=administration.REASON_MAX, rows=2, className="mb-2"),
        html.P([html.Strong("Meaning of the signature: "), meaning], className="small mb-1"),
        dbc.Label(f"Password of {signer} (electronic signature)", html_for=signature_id),
        dbc.Input(id=signature_id, type="password", autoComplete="current-password", className="mb-3"),
        dbc.Button(button, id=submit_id, color="primary", n_clicks=0),
        html.Div(id=result_id, role="status", className="mt-3"),
        dcc.Store(id=done_id, data=0),
    ]


def clicked(n_clicks) -> bool:
    """A real click: Dash sends a positive integer; anything else is a forged or initial call."""
    return isinstance(n_clicks, int) and not isinstance(n_clicks, bool) and n_clicks > 0


def count(done) -> int:
    return (done if isinstance(done, int) and not isinstance(done, bool) else 0) + 1


def changed(done) -> bool:
    """True when one of the forms recorded a change (the lists are read again then only)."""
    return any(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in done)


def run(change: Callable[[], object], success: Callable[[object], list], result_id: str):
    """Run a signed change: (success alert, True) or (refusal alert, False). A signed-in user who is not
    an administrator gets 403, like every admin-only callback (the refusal is already audited)."""
    try:
        outcome = change()
    except administration.NotAdmin as refused:
        raise Forbidden(str(refused)) from None
    except administration.Refused as refused:
        return dbc.Alert(["✕ Not done: ", str(refused)], color="danger", className="mb-0",
                         id=f"{result_id}-refused"), False
    return dbc.Alert(success(outcome), color="success", className="mb-0", id=f"{result_id}-done"), True
