"""Remote acknowledgement (/ack/<token>): the page an excursion's message links to. Signed in (the login
page brings the reader back here), leadership or the site manager of the excursion's site sees the
excursion and acknowledges it with a comment and their password, as on the monitoring page; the link is
used up with the acknowledgement. An unknown, used or expired link, or an excursion of another site, is
refused on the server and audited (queries/notifications/ack_links.py, queries/analyses/monitoring.py)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import auth, context, ids
from dashboard.components.excursion_list import ack_done, ack_fields, ack_refused
from dashboard.components.formatting import is_missing, to_local
from queries.analyses import monitoring
from queries.analyses.monitoring import SIGNATURE_MEANING
from queries.notifications import ack_links
from queries.records import quality_records as qr

PAGE = "/ack/<token>"
dash.register_page(__name__, path_template=PAGE, name="Acknowledge", title="Acknowledge · ATMP Quality Hub")


def layout(token=None, **_):
    if not context.allowed(PAGE):
        _refuse_role(token)
        return context.denied_page()
    user = context.user()
    wh = context.warehouse()
    link = _usable(wh, token, context.now(), user.user_id)
    if link.problem:
        return _refused(link.problem)
    try:
        record = qr.excursion_record(wh, context.scope(None, PAGE), link.excursion_id)
    except qr.NotFound:
        ack_links.refuse(wh, user_id=user.user_id, token=token,
                         link=ack_links.Link(link.excursion_id, link.recipient, "excursion outside the user's scope"))
        return _refused("This excursion is not one you may acknowledge.")
    e, tz = record.excursion, record.excursion["timezone"]
    if not is_missing(e["acknowledged_at"]):
        return _refused(f"Excursion {e['excursion_id']} was acknowledged already, by {e['acknowledged_by']} at "
                        f"{to_local(e['acknowledged_at'], tz)}.")
    return html.Div([
        html.H1(f"Acknowledge excursion {e['excursion_id']}", className="h3"),
        html.P([f"{e['level'].capitalize()}-level excursion of {e['parameter']} in {e['room_id']} "
                f"({e['site_name']}), started {to_local(e['started_at'], tz)}, peak {e['peak']:g}. ",
                dcc.Link("Its record", href=f"/excursion/{e['excursion_id']}"), "."], id="ack-link-summary"),
        html.P(f"This link was sent to {link.recipient}; it works once, until {link.expires_at:%Y-%m-%d %H:%M} UTC.",
               className="small text-body-secondary"),
        dcc.Store(id=ids.ACKL_TOKEN, data=token),
        dbc.Card(dbc.CardBody([
            html.P([html.Strong("Meaning of the signature: "), SIGNATURE_MEANING], className="small"),
            *ack_fields(ids.ACKL_COMMENT, ids.ACKL_DEVIATION, ids.ACKL_PASSWORD, ids.ACKL_SUBMIT, ids.ACKL_RESULT,
                        f"Password of {user.user_id} (electronic signature)"),
        ]), className="ack-form"),
    ], id="ack-link-page")


def _usable(wh, token, now, user_id: str) -> ack_links.Link:
    """The link as this user may use it now; a problem (unknown, used, expired, someone else's) is audited."""
    link = ack_links.look_up(wh, token, now)
    if not link.problem:
        other = ack_links.addressed_to(wh, link, user_id)
        link = link if other is None else ack_links.Link(link.excursion_id, link.recipient, other, link.expires_at)
    if link.problem:
        ack_links.refuse(wh, user_id=user_id, token=token, link=link)
    return link


def _refuse_role(token) -> None:
    """A signed-in user whose role may not acknowledge followed a link: audited (then refused)."""
    user = context.user()
    ack_links.refuse(context.warehouse(), user_id=user.user_id, token=token,
                     link=ack_links.Link(None, None, f"role {user.role} may not acknowledge excursions"))


def _refused(message: str):
    return html.Div([html.H1("Acknowledge an excursion", className="h3"),
                     dbc.Alert(message, color="warning", id="ack-link-refused"),
                     html.P(dcc.Link("Monitoring", href="/monitoring"))], id="ack-link-page")


@callback(
    Output(ids.ACKL_RESULT, "children"),
    Output(ids.ACKL_PASSWORD, "value"),
    Input(ids.ACKL_SUBMIT, "n_clicks"),
    State(ids.ACKL_TOKEN, "data"),
    State(ids.ACKL_COMMENT, "value"),
    State(ids.ACKL_DEVIATION, "value"),
    State(ids.ACKL_PASSWORD, "value"),
    prevent_initial_call=True,
)
def acknowledge(n_clicks, token, comment, deviation_decision, password):
    if not n_clicks:
        raise PreventUpdate
    if not context.allowed(PAGE):
        _refuse_role(token)
    scope = context.scope(None, PAGE)  # who signs, and where, is the server-side user's (403 for this role)
    user = context.user()
    wh, now = context.warehouse(), context.now()
    link = _usable(wh, token, now, user.user_id)
    if link.problem:
        return ack_refused(link.problem), ""

    def use_link(conn) -> None:
        if not ack_links.mark_used(wh, conn, token=token, user_id=user.user_id, now=now):
            raise monitoring.SignatureRefused("This link was used a moment ago.")
    try:
        done = monitoring.acknowledge(wh, scope, user_id=user.user_id, role=user.role, own_site=user.site_id,
                                      excursion_id=link.excursion_id, password=password, comment=comment, now=now,
                                      deviation_decision=deviation_decision,
                                      attempt_allowed=auth.signature_attempts_of(user.user_id),
                                      tell_notified=context.ack_followup_url(), within=use_link)
    except monitoring.SignatureRefused as refused:
        return ack_refused(str(refused)), ""
    return ack_done(done, "; its escalation stops"), ""
