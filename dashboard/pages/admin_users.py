"""Users (/admin/users, administrators): the list, and signed forms to add a user, change a role or site,
deactivate or activate an account and reset a password. The same changes as `atmp-hub users`, usable while
the app holds the DuckDB warehouse (which admits one process).

Every callback asks the server who is signed in; the browser supplies only the form's fields. The checks,
the signature and the audit entry are queries/records/administration.py's."""

from __future__ import annotations

from functools import partial

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import auth, context, ids
from dashboard.components import signed_form
from dashboard.components.formatting import is_missing
from queries.engine.scope import ROLES
from queries.records import administration, users

PAGE = "/admin/users"
dash.register_page(__name__, path=PAGE, name="Users", nav=True, order=95, title="Users · ATMP Quality Hub")

ROLE_TEXT = {"leadership": "Quality leadership (every site)", "site_manager": "Site manager (one site)",
             "auditor": "Auditor (reads every site)", "display": "Wall display (signs in with a display token)",
             "admin": "Administrator (users and tokens; no quality data)"}
NO_SITE = "none"  # the site selects' "no site" (an empty value would be taken for the placeholder)


def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    signer = context.user().display_name
    sign = partial(signed_form.signature_fields, signer=signer, meaning=administration.USERS_MEANING)
    role_options = [{"label": ROLE_TEXT[r], "value": r} for r in ROLES]
    sites = _site_options()
    people = _user_options()
    add = dbc.Form([
        dbc.Row([
            dbc.Col([dbc.Label("User id (the login name)", html_for=ids.ADM_ADD_ID),
                     dbc.Input(id=ids.ADM_ADD_ID, maxLength=100, autoComplete="off")], md=6),
            dbc.Col([dbc.Label("Name", html_for=ids.ADM_ADD_NAME),
                     dbc.Input(id=ids.ADM_ADD_NAME, maxLength=users.NAME_MAX, autoComplete="off")], md=6),
        ], className="mb-2"),
        dbc.Row([
            dbc.Col([dbc.Label("Role", html_for=ids.ADM_ADD_ROLE),
                     dbc.Select(id=ids.ADM_ADD_ROLE, options=role_options, value="auditor")], md=6),
            dbc.Col([dbc.Label("Site (site managers only)", html_for=ids.ADM_ADD_SITE),
                     dbc.Select(id=ids.ADM_ADD_SITE, options=sites, value=NO_SITE)], md=6),
        ], className="mb-2"),
        dbc.Label(f"Initial password (at least {users.MIN_PASSWORD_LENGTH} characters; give it to the user "
                  "in person)", html_for=ids.ADM_ADD_PASSWORD),
        dbc.Input(id=ids.ADM_ADD_PASSWORD, type="password", autoComplete="new-password", className="mb-2"),
        *sign(reason_id=ids.ADM_ADD_REASON, signature_id=ids.ADM_ADD_SIGNATURE, submit_id=ids.ADM_ADD_SUBMIT,
              result_id=ids.ADM_ADD_RESULT, done_id=ids.ADM_ADD_DONE, button="Sign and add the user"),
    ], id="admin-add-form")
    role = dbc.Form([
        _user_select(ids.ADM_ROLE_USER, people),
        dbc.Row([
            dbc.Col([dbc.Label("New role", html_for=ids.ADM_ROLE_ROLE),
                     dbc.Select(id=ids.ADM_ROLE_ROLE, options=role_options)], md=6),
            dbc.Col([dbc.Label("Site (site managers only)", html_for=ids.ADM_ROLE_SITE),
                     dbc.Select(id=ids.ADM_ROLE_SITE, options=sites, value=NO_SITE)], md=6),
        ], className="mb-2"),
        html.P("The user's sessions end: they sign in again with the new role.", className="small"),
        *sign(reason_id=ids.ADM_ROLE_REASON, signature_id=ids.ADM_ROLE_SIGNATURE, submit_id=ids.ADM_ROLE_SUBMIT,
              result_id=ids.ADM_ROLE_RESULT, done_id=ids.ADM_ROLE_DONE, button="Sign and change the role"),
    ], id="admin-role-form")
    active = dbc.Form([
        _user_select(ids.ADM_ACTIVE_USER, people),
        dbc.RadioItems(id=ids.ADM_ACTIVE_CHOICE, inline=True, className="mb-2", value=None, options=[
            {"label": "Deactivate (cannot sign in; sessions end)", "value": "deactivate"},
            {"label": "Activate again", "value": "activate"}]),
        *sign(reason_id=ids.ADM_ACTIVE_REASON, signature_id=ids.ADM_ACTIVE_SIGNATURE,
              submit_id=ids.ADM_ACTIVE_SUBMIT, result_id=ids.ADM_ACTIVE_RESULT, done_id=ids.ADM_ACTIVE_DONE,
              button="Sign and record"),
    ], id="admin-active-form")
    reset = dbc.Form([
        _user_select(ids.ADM_RESET_USER, people),
        dbc.Label(f"New password (at least {users.MIN_PASSWORD_LENGTH} characters)", html_for=ids.ADM_RESET_PASSWORD),
        dbc.Input(id=ids.ADM_RESET_PASSWORD, type="password", autoComplete="new-password", className="mb-2"),
        html.P("The user's sessions end.", className="small"),
        *sign(reason_id=ids.ADM_RESET_REASON, signature_id=ids.ADM_RESET_SIGNATURE,
              submit_id=ids.ADM_RESET_SUBMIT, result_id=ids.ADM_RESET_RESULT, done_id=ids.ADM_RESET_DONE,
              button="Sign and reset the password"),
    ], id="admin-reset-form")
    email = dbc.Form([
        _user_select(ids.ADM_EMAIL_USER, people),
        dbc.Label("E-mail address for notifications (empty: none)", html_for=ids.ADM_EMAIL_ADDRESS),
        dbc.Input(id=ids.ADM_EMAIL_ADDRESS, type="email", maxLength=300, autoComplete="off", className="mb-2"),
        html.P("Rules for 'site-managers' reach site managers here; an acknowledgement link sent to it is this "
               "user's alone.", className="small"),
        *sign(reason_id=ids.ADM_EMAIL_REASON, signature_id=ids.ADM_EMAIL_SIGNATURE,
              submit_id=ids.ADM_EMAIL_SUBMIT, result_id=ids.ADM_EMAIL_RESULT, done_id=ids.ADM_EMAIL_DONE,
              button="Sign and set the address"),
    ], id="admin-email-form")
    return html.Div([
        html.H1("Users", className="h3"),
        html.P(["Each change needs a reason and your password (electronic signature) and is written to the ",
                dcc.Link("audit trail", href="/audit"), ". Wall displays sign in with ",
                dcc.Link("display tokens", href="/admin/display-tokens"), "."], className="text-body-secondary"),
        html.Div(_table(), id=ids.ADM_USERS_TABLE_HOST),
        html.H2("Change users", className="h5 mt-4"),
        dbc.Row([signed_form.card("Add a user", add), signed_form.card("Change role or site", role),
                 signed_form.card("Deactivate or activate", active), signed_form.card("Reset password", reset),
                 signed_form.card("Notification address", email)],
                className="g-3"),
    ], id="admin-users-page")


def _table():
    listed = context.warehouse().query("sql/users_list")
    head = html.Thead(html.Tr([html.Th(h, scope="col")
                               for h in ("User", "Name", "Role", "Site", "E-mail", "Active", "Created (UTC)")]))
    body = html.Tbody([html.Tr([
        html.Td(r.user_id), html.Td(r.display_name), html.Td(r.role), html.Td(_site(r.site_id) or "–"),
        html.Td("–" if is_missing(r.email) or not r.email else r.email), html.Td("✓ yes" if r.active else "✕ no"),
        html.Td("–" if is_missing(r.created_at) else f"{r.created_at:%Y-%m-%d %H:%M}"),
    ]) for r in listed.itertuples()])
    return dbc.Table([head, body], size="sm", hover=True, responsive=True, id=ids.ADM_USERS_TABLE)


def _user_options() -> list[dict]:
    listed = context.warehouse().query("sql/users_list").sort_values("user_id")
    return [{"label": f"{r.user_id} – {r.display_name} ({r.role}{', ' + _site(r.site_id) if _site(r.site_id) else ''}"
                      f"{', deactivated' if not r.active else ''})", "value": r.user_id}
            for r in listed.itertuples()]


def _site(value) -> str:
    """A user's site id as text ('' for none: pandas reads a missing one as None or NaN)."""
    return "" if is_missing(value) else str(value)


def _site_options() -> list[dict]:
    sites = context.warehouse().query("sql/site_ids")["site_id"]
    return [{"label": "none (not a site manager)", "value": NO_SITE}] + [{"label": s, "value": s} for s in sites]


def _user_select(component_id: str, options: list[dict]) -> html.Div:
    return html.Div([dbc.Label("User", html_for=component_id),
                     dbc.Select(id=component_id, options=options, placeholder="Choose a user")], className="mb-2")


def _chosen_site(value):
    """The site select's value: its "none" means no site; anything else is checked as a site id."""
    return None if value in (NO_SITE, "", None) else value


@callback(
    Output(ids.ADM_USERS_TABLE_HOST, "children"),
    Output(ids.ADM_ROLE_USER, "options"),
    Output(ids.ADM_ACTIVE_USER, "options"),
    Output(ids.ADM_RESET_USER, "options"),
    Output(ids.ADM_EMAIL_USER, "options"),
    Input(ids.ADM_ADD_DONE, "data"),
    Input(ids.ADM_ROLE_DONE, "data"),
    Input(ids.ADM_ACTIVE_DONE, "data"),
    Input(ids.ADM_RESET_DONE, "data"),
    Input(ids.ADM_EMAIL_DONE, "data"),
    prevent_initial_call=True,
)
def refresh(*done):
    """The list and the user choices, read again after a form recorded a change (only then)."""
    context.require_page(PAGE)
    if not signed_form.changed(done):
        raise PreventUpdate
    people = _user_options()
    return _table(), people, people, people, people


@callback(
    Output(ids.ADM_ADD_RESULT, "children"),
    Output(ids.ADM_ADD_SIGNATURE, "value"),
    Output(ids.ADM_ADD_PASSWORD, "value"),
    Output(ids.ADM_ADD_DONE, "data"),
    Output(ids.ADM_ADD_ID, "value"),
    Output(ids.ADM_ADD_NAME, "value"),
    Output(ids.ADM_ADD_REASON, "value"),
    Input(ids.ADM_ADD_SUBMIT, "n_clicks"),
    State(ids.ADM_ADD_ID, "value"),
    State(ids.ADM_ADD_NAME, "value"),
    State(ids.ADM_ADD_ROLE, "value"),
    State(ids.ADM_ADD_SITE, "value"),
    State(ids.ADM_ADD_PASSWORD, "value"),
    State(ids.ADM_ADD_REASON, "value"),
    State(ids.ADM_ADD_SIGNATURE, "value"),
    State(ids.ADM_ADD_DONE, "data"),
    prevent_initial_call=True,
)
def add_user(n_clicks, user_id, name, role, site, initial_password, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.user()  # who signs is the session's user, never a field of the form
    alert, ok = signed_form.run(
        lambda: administration.add_user(
            context.warehouse(), actor_id=actor.user_id, user_id=user_id, display_name=name, role=role,
            site_id=_chosen_site(site), initial_password=initial_password, reason=reason, password=password,
            attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda added: [f"✓ User {added.user_id} ({added.role}{', ' + added.site_id if added.site_id else ''}) "
                       f"added by {actor.user_id}; signature recorded in the audit trail."],
        ids.ADM_ADD_RESULT)
    if not ok:
        return alert, "", "", dash.no_update, dash.no_update, dash.no_update, dash.no_update
    return alert, "", "", signed_form.count(done), "", "", ""


@callback(
    Output(ids.ADM_ROLE_RESULT, "children"),
    Output(ids.ADM_ROLE_SIGNATURE, "value"),
    Output(ids.ADM_ROLE_DONE, "data"),
    Output(ids.ADM_ROLE_REASON, "value"),
    Input(ids.ADM_ROLE_SUBMIT, "n_clicks"),
    State(ids.ADM_ROLE_USER, "value"),
    State(ids.ADM_ROLE_ROLE, "value"),
    State(ids.ADM_ROLE_SITE, "value"),
    State(ids.ADM_ROLE_REASON, "value"),
    State(ids.ADM_ROLE_SIGNATURE, "value"),
    State(ids.ADM_ROLE_DONE, "data"),
    prevent_initial_call=True,
)
def change_role(n_clicks, user_id, role, site, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.user()
    alert, ok = signed_form.run(
        lambda: administration.change_role(
            context.warehouse(), actor_id=actor.user_id, user_id=user_id, role=role, site_id=_chosen_site(site), reason=reason,
            password=password, attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda changed: [f"✓ {changed.user_id} is now {changed.role}"
                         f"{' at ' + changed.site_id if changed.site_id else ''}; their sessions have ended. "
                         "Signature recorded in the audit trail."],
        ids.ADM_ROLE_RESULT)
    return (alert, "", signed_form.count(done), "") if ok else (alert, "", dash.no_update, dash.no_update)


@callback(
    Output(ids.ADM_ACTIVE_RESULT, "children"),
    Output(ids.ADM_ACTIVE_SIGNATURE, "value"),
    Output(ids.ADM_ACTIVE_DONE, "data"),
    Output(ids.ADM_ACTIVE_REASON, "value"),
    Input(ids.ADM_ACTIVE_SUBMIT, "n_clicks"),
    State(ids.ADM_ACTIVE_USER, "value"),
    State(ids.ADM_ACTIVE_CHOICE, "value"),
    State(ids.ADM_ACTIVE_REASON, "value"),
    State(ids.ADM_ACTIVE_SIGNATURE, "value"),
    State(ids.ADM_ACTIVE_DONE, "data"),
    prevent_initial_call=True,
)
def set_active(n_clicks, user_id, choice, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.user()
    wanted = {"deactivate": False, "activate": True}.get(choice) if isinstance(choice, str) else None
    alert, ok = signed_form.run(
        lambda: administration.set_active(
            context.warehouse(), actor_id=actor.user_id, user_id=user_id, active=wanted, reason=reason,
            password=password, attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda changed: [f"✓ {changed.user_id} {'activated' if changed.active else 'deactivated'}; their sessions "
                         "have ended. Signature recorded in the audit trail."],
        ids.ADM_ACTIVE_RESULT)
    return (alert, "", signed_form.count(done), "") if ok else (alert, "", dash.no_update, dash.no_update)


@callback(
    Output(ids.ADM_RESET_RESULT, "children"),
    Output(ids.ADM_RESET_SIGNATURE, "value"),
    Output(ids.ADM_RESET_PASSWORD, "value"),
    Output(ids.ADM_RESET_DONE, "data"),
    Output(ids.ADM_RESET_REASON, "value"),
    Input(ids.ADM_RESET_SUBMIT, "n_clicks"),
    State(ids.ADM_RESET_USER, "value"),
    State(ids.ADM_RESET_PASSWORD, "value"),
    State(ids.ADM_RESET_REASON, "value"),
    State(ids.ADM_RESET_SIGNATURE, "value"),
    State(ids.ADM_RESET_DONE, "data"),
    prevent_initial_call=True,
)
def reset_password(n_clicks, user_id, new_password, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.user()
    alert, ok = signed_form.run(
        lambda: administration.reset_password(
            context.warehouse(), actor_id=actor.user_id, user_id=user_id, new_password=new_password, reason=reason,
            password=password, attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda changed: [f"✓ Password of {changed.user_id} reset; their sessions have ended. Give them the new "
                         "password in person. Signature recorded in the audit trail."],
        ids.ADM_RESET_RESULT)
    return (alert, "", "", signed_form.count(done), "") if ok else (alert, "", "", dash.no_update, dash.no_update)


@callback(
    Output(ids.ADM_EMAIL_RESULT, "children"),
    Output(ids.ADM_EMAIL_SIGNATURE, "value"),
    Output(ids.ADM_EMAIL_DONE, "data"),
    Output(ids.ADM_EMAIL_REASON, "value"),
    Input(ids.ADM_EMAIL_SUBMIT, "n_clicks"),
    State(ids.ADM_EMAIL_USER, "value"),
    State(ids.ADM_EMAIL_ADDRESS, "value"),
    State(ids.ADM_EMAIL_REASON, "value"),
    State(ids.ADM_EMAIL_SIGNATURE, "value"),
    State(ids.ADM_EMAIL_DONE, "data"),
    prevent_initial_call=True,
)
def set_email(n_clicks, user_id, email, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.user()
    alert, ok = signed_form.run(
        lambda: administration.set_email(
            context.warehouse(), actor_id=actor.user_id, user_id=user_id, email=email, reason=reason,
            password=password, attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda changed: [f"✓ Notifications for {changed[0]} go to {changed[1]}." if changed[1] else
                         f"✓ {changed[0]} has no notification address now.", " Signature recorded in the audit trail."],
        ids.ADM_EMAIL_RESULT)
    return (alert, "", signed_form.count(done), "") if ok else (alert, "", dash.no_update, dash.no_update)
