"""Display tokens (/admin/display-tokens, administrators): the list, and signed forms to create a token
(shown once, in the answer to the creating request; only its hash is stored) and to revoke one. The same
changes as `atmp-hub display-token`, usable while the app holds the DuckDB warehouse.

Every callback asks the server who is signed in; the checks, the signature and the audit entry are
queries/records/administration.py's."""

from __future__ import annotations

from functools import partial

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import auth, context, ids
from dashboard.components import signed_form
from queries.records import administration, display_tokens

PAGE = "/admin/display-tokens"
dash.register_page(__name__, path=PAGE, name="Display tokens", nav=True, order=96,
                   title="Display tokens · ATMP Quality Hub")
KIOSK_PAGES = "overview,excursions"  # the playlist of a new token's example address (as the CLI prints)


def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    sign = partial(signed_form.signature_fields, signer=context.user().display_name,
                   meaning=administration.TOKENS_MEANING)
    create = dbc.Form([
        dbc.Label("Display user (role: wall display)", html_for=ids.ADM_TOKEN_USER),
        dbc.Select(id=ids.ADM_TOKEN_USER, options=_display_users(), placeholder="Choose a display user",
                   className="mb-2"),
        dbc.Label("Label: where the screen is", html_for=ids.ADM_TOKEN_LABEL),
        dbc.Input(id=ids.ADM_TOKEN_LABEL, maxLength=administration.LABEL_MAX, placeholder="e.g. QA corridor TV",
                  autoComplete="off", className="mb-2"),
        *sign(reason_id=ids.ADM_TOKEN_REASON, signature_id=ids.ADM_TOKEN_SIGNATURE, submit_id=ids.ADM_TOKEN_SUBMIT,
              result_id=ids.ADM_TOKEN_RESULT, done_id=ids.ADM_TOKEN_DONE, button="Sign and create the token"),
    ], id="admin-token-form")
    revoke = dbc.Form([
        dbc.Label("Token", html_for=ids.ADM_REVOKE_TOKEN),
        dbc.Select(id=ids.ADM_REVOKE_TOKEN, options=_active_tokens(), placeholder="Choose an active token",
                   className="mb-2"),
        html.P("Screens using it are signed out at their next request.", className="small"),
        *sign(reason_id=ids.ADM_REVOKE_REASON, signature_id=ids.ADM_REVOKE_SIGNATURE,
              submit_id=ids.ADM_REVOKE_SUBMIT, result_id=ids.ADM_REVOKE_RESULT, done_id=ids.ADM_REVOKE_DONE,
              button="Sign and revoke the token"),
    ], id="admin-revoke-form")
    return html.Div([
        html.H1("Display tokens", className="h3"),
        html.P(["A display token signs a wall display in without a password (kiosk mode). It is shown once, "
                "when it is created: only its hash is stored. Tokens belong to users with the wall display role (",
                dcc.Link("users", href="/admin/users"), "). Each change needs a reason and your password "
                "(electronic signature) and is written to the ", dcc.Link("audit trail", href="/audit"), "."],
               className="text-body-secondary"),
        html.Div(_table(), id=ids.ADM_TOKENS_TABLE_HOST),
        html.H2("Change tokens", className="h5 mt-4"),
        dbc.Row([signed_form.card("Create a token", create), signed_form.card("Revoke a token", revoke)], className="g-3"),
    ], id="admin-tokens-page")


def _missing(value) -> bool:
    return value is None or bool(pd.isna(value))  # a missing time reads as None, NaN or NaT


def _when(value) -> str:
    return "–" if _missing(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"


def _table():
    listed = display_tokens.list_tokens(context.warehouse())
    if listed.empty:
        return html.P("No display token yet.", className="text-body-secondary", id=ids.ADM_TOKENS_TABLE)
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Token", "Label", "Display user", "Created (UTC)", "Created by", "Last used (UTC)", "State")]))
    body = html.Tbody([html.Tr([
        html.Td(html.Code(r.token_id)), html.Td(r.label), html.Td(r.user_id), html.Td(_when(r.created_at)),
        html.Td(r.created_by), html.Td(_when(r.last_used)),
        html.Td("✓ active" if _missing(r.revoked_at) else f"✕ revoked {_when(r.revoked_at)} by {r.revoked_by}"),
    ]) for r in listed.itertuples()])
    return dbc.Table([head, body], size="sm", hover=True, responsive=True, id=ids.ADM_TOKENS_TABLE)


def _display_users() -> list[dict]:
    listed = context.warehouse().query("sql/users_list")
    shown = listed[(listed["role"] == "display") & listed["active"].astype(bool)].sort_values("user_id")
    return [{"label": f"{r.user_id} – {r.display_name}", "value": r.user_id} for r in shown.itertuples()]


def _active_tokens() -> list[dict]:
    listed = display_tokens.list_tokens(context.warehouse())
    active = listed[listed["revoked_at"].map(_missing)] if not listed.empty else listed
    return [{"label": f"{r.token_id} – {r.label} ({r.user_id})", "value": r.token_id} for r in active.itertuples()]


@callback(
    Output(ids.ADM_TOKENS_TABLE_HOST, "children"),
    Output(ids.ADM_REVOKE_TOKEN, "options"),
    Output(ids.ADM_TOKEN_USER, "options"),
    Input(ids.ADM_TOKEN_DONE, "data"),
    Input(ids.ADM_REVOKE_DONE, "data"),
    prevent_initial_call=True,
)
def refresh(*done):
    """The list and the choices, read again after a form recorded a change (only then)."""
    context.require_page(PAGE)
    if not signed_form.changed(done):
        raise PreventUpdate
    return _table(), _active_tokens(), _display_users()


def _created(new: display_tokens.NewToken, user_id: str) -> list:
    address = f"/kiosk/login?token={new.token}&pages={KIOSK_PAGES}&interval=30"
    return [html.P(f"✓ Display token {new.token_id} created for {user_id}; signature recorded in the audit trail."),
            html.P([html.Strong("Shown once: "), "copy it to the screen now. It is not stored and cannot be "
                    "shown again (revoke it and create another if it is lost)."], className="mb-1"),
            html.Pre(html.Code(new.token, id="admin-new-token"), className="mb-1"),
            html.P(["Kiosk address: ", html.Code(address, className="text-body")], className="small mb-0")]


@callback(
    Output(ids.ADM_TOKEN_RESULT, "children"),
    Output(ids.ADM_TOKEN_SIGNATURE, "value"),
    Output(ids.ADM_TOKEN_DONE, "data"),
    Output(ids.ADM_TOKEN_LABEL, "value"),
    Output(ids.ADM_TOKEN_REASON, "value"),
    Input(ids.ADM_TOKEN_SUBMIT, "n_clicks"),
    State(ids.ADM_TOKEN_USER, "value"),
    State(ids.ADM_TOKEN_LABEL, "value"),
    State(ids.ADM_TOKEN_REASON, "value"),
    State(ids.ADM_TOKEN_SIGNATURE, "value"),
    State(ids.ADM_TOKEN_DONE, "data"),
    prevent_initial_call=True,
)
def create_token(n_clicks, user_id, label, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.user()  # who signs is the session's user, never a field of the form
    alert, ok = signed_form.run(
        lambda: administration.create_token(
            context.warehouse(), actor_id=actor.user_id, user_id=user_id, label=label, reason=reason,
            password=password, attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda new: _created(new, user_id),
        ids.ADM_TOKEN_RESULT)
    if not ok:
        return alert, "", dash.no_update, dash.no_update, dash.no_update
    return alert, "", signed_form.count(done), "", ""


@callback(
    Output(ids.ADM_REVOKE_RESULT, "children"),
    Output(ids.ADM_REVOKE_SIGNATURE, "value"),
    Output(ids.ADM_REVOKE_DONE, "data"),
    Output(ids.ADM_REVOKE_REASON, "value"),
    Input(ids.ADM_REVOKE_SUBMIT, "n_clicks"),
    State(ids.ADM_REVOKE_TOKEN, "value"),
    State(ids.ADM_REVOKE_REASON, "value"),
    State(ids.ADM_REVOKE_SIGNATURE, "value"),
    State(ids.ADM_REVOKE_DONE, "data"),
    prevent_initial_call=True,
)
def revoke_token(n_clicks, token_id, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.user()
    alert, ok = signed_form.run(
        lambda: administration.revoke_token(
            context.warehouse(), actor_id=actor.user_id, token_id=token_id, reason=reason, password=password,
            attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda revoked: [f"✓ Display token {revoked} revoked; screens using it are signed out at their next "
                         "request. Signature recorded in the audit trail."],
        ids.ADM_REVOKE_RESULT)
    return (alert, "", signed_form.count(done), "") if ok else (alert, "", dash.no_update, dash.no_update)
