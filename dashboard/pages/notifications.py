"""Notifications (/notifications; leadership, administrators, auditors): the open system alarms, what is
escalating now, what failed to deliver, what went out, and the rules. Leadership and administrators add a rule or switch one off
(signed: reason and password, audited), send a rule a test message, and keep the on-call shifts; auditors
read.

Every callback asks the server who is signed in; the checks, the signature and the audit entries are
queries/notifications/rules.py's. Times are UTC."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import auth, context, ids
from dashboard.components import signed_form
from queries.notifications import outbox, rules

PAGE = "/notifications"
dash.register_page(__name__, path=PAGE, name="Notifications", nav=True, order=84,
                   title="Notifications · ATMP Quality Hub")
SHOWN = 100
FAILURE_DAYS = 7
REFRESH_MS = 10_000
EVENT_LABELS = {"excursion_action": "action-level excursion", "excursion_alert": "alert-level excursion",
                "import_rejected": "file refused by the drop folder"}
WEEKDAYS = dict(zip("1234567", ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
STATUS_LABELS = {"pending": "○ waiting", "sending": "➜ sending", "sent": "✓ sent",
                 "printed": "✎ printed to the log (no mail server)", "cancelled": "✕ cancelled"}


def _editor() -> bool:
    return context.user().role in rules.EDITOR_ROLES


def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    parts = [
        html.H1("Notifications", className="h3"),
        html.P(["Who is told about what, and whether it reached them. Each event queues its messages with "
                "the event itself; an acknowledged excursion cancels what is still due of its escalation. "
                "Times are UTC. How it works: ", html.Code("docs/notifications.md"), "."],
               className="text-body-secondary"),
        dcc.Interval(id=ids.NOT_REFRESH, interval=REFRESH_MS),
        html.H2("System alarms now", className="h5 mt-3"),
        html.Div(_alarms(), id=ids.NOT_ALARMS),
        html.H2("Escalating now", className="h5 mt-4"),
        html.Div(_open(), id=ids.NOT_OPEN),
        html.H2(f"Delivery failures (last {FAILURE_DAYS} days)", className="h5 mt-4"),
        html.Div(_failures(), id=ids.NOT_FAILURES),
        html.H2("Rules", className="h5 mt-4"),
        html.Div(_rules_table(), id=ids.NOT_RULES_HOST),
        html.H2("On call", className="h5 mt-4"),
        html.P(["A rule whose recipient is ", html.Code("on-call"), " reaches whoever's shift covers the moment "
                "its message falls due, in the site's local time; nobody on call is a delivery failure, and after "
                "three a system alarm."], className="small text-body-secondary"),
        html.Div(_shifts_table(), id=ids.NOT_SHIFTS_HOST),
    ]
    if _editor():
        parts += [html.H2("Change rules", className="h5 mt-4"), _forms(),
                  html.H2("Change who is on call", className="h5 mt-4"), _shift_forms()]
    parts += [html.H2(f"Sent, printed and cancelled (newest {SHOWN})", className="h5 mt-4"),
              html.Div(_history(), id=ids.NOT_HISTORY)]
    return html.Div(parts, id="notifications-page")


# -- lists ---------------------------------------------------------------------------------------------
def _when(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M:%S}"


def _event(row) -> list:
    label = EVENT_LABELS.get(row.event, row.event)
    if row.event in outbox.EXCURSION_EVENTS.values():
        return [label, " ", dcc.Link(row.event_id, href=f"/excursion/{row.event_id}")]
    return [label, " ", html.Code(row.event_id)]


def _table(frame: pd.DataFrame, columns: list[tuple[str, callable]], table_id: str, empty: str):
    if frame.empty:
        return html.P(empty, className="text-body-secondary", id=table_id)
    head = html.Thead(html.Tr([html.Th(title, scope="col") for title, _ in columns]))
    body = html.Tbody([html.Tr([html.Td(cell(row)) for _, cell in columns]) for row in frame.itertuples()])
    return dbc.Table([head, body], size="sm", hover=True, responsive=True, id=table_id)


def _open():
    frame = context.warehouse().query("notifications/outbox_open", {"n": SHOWN})
    return _table(frame, [
        ("Event", _event), ("To", lambda r: f"{r.recipient} ({r.channel})"),
        ("Message", lambda r: f"{int(r.repeat_no) + 1}" + (" (reminder)" if r.repeat_no else "")),
        ("Due (UTC)", lambda r: _when(r.due_at)), ("State", lambda r: STATUS_LABELS.get(r.status, r.status)),
        ("Next attempt (UTC)", lambda r: _when(r.next_attempt_at)), ("Attempts", lambda r: int(r.attempts)),
        ("Last answer", lambda r: r.last_response or "–"),
    ], "notifications-open-table", "Nothing is waiting to be sent.")


def _alarms():
    frame = context.warehouse().query("notifications/alarms_open")
    return _table(frame, [
        ("Raised (UTC)", lambda r: _when(r.raised_at)), ("Kind", lambda r: r.kind.replace("_", " ")),
        ("What", lambda r: r.detail),
    ], "notifications-alarms-table", "No system alarm: sensors report, ingest writes, the audit trail verifies "
                                     "and notifications are delivered.")


def _failures():
    since = context.now() - timedelta(days=FAILURE_DAYS)
    frame = context.warehouse().query("notifications/attempts_failed_since", {"since": since, "n": SHOWN})
    return _table(frame, [
        ("When (UTC)", lambda r: _when(r.attempted_at)), ("Event", _event),
        ("To", lambda r: f"{r.recipient} ({r.channel})"), ("Attempt", lambda r: int(r.attempt)),
        ("Outcome", lambda r: "✕ failed" if r.outcome == "failed" else "? interrupted"),
        ("Answer", lambda r: r.response), ("Message now", lambda r: STATUS_LABELS.get(r.status, r.status)),
    ], "notifications-failures-table", f"No failed delivery in the last {FAILURE_DAYS} days.")


def _history():
    frame = context.warehouse().query("notifications/outbox_finished", {"n": SHOWN})
    return _table(frame, [
        ("Finished (UTC)", lambda r: _when(r.finished_at)), ("Event", _event),
        ("To", lambda r: f"{r.recipient} ({r.channel})"), ("Subject", lambda r: r.subject),
        ("State", lambda r: STATUS_LABELS.get(r.status, r.status)), ("Answer", lambda r: r.last_response or "–"),
    ], "notifications-history-table", "No message has gone out yet.")


def _rules_table():
    frame = rules.all_rules(context.warehouse())
    return _table(frame, [
        ("Rule", lambda r: html.Code(r.rule_id)), ("What", lambda r: rules.describe(r._asdict())),
        ("State", lambda r: "✓ active" if r.active else "✕ off"),
        ("Added", lambda r: f"{_when(r.created_at)} by {r.created_by}"),
    ], ids.NOT_RULES, "No rule yet: nobody is notified of anything.")


def _shifts_table():
    frame = context.warehouse().query("notifications/shifts_all")
    return _table(frame, [
        ("Shift", lambda r: html.Code(r.shift_id)), ("Site", lambda r: r.site_id),
        ("Starts on", lambda r: " ".join(WEEKDAYS[d] for d in r.days)),
        ("Local time", lambda r: f"{r.starts}–{r.ends}" + (" (24 h)" if r.starts == r.ends else
                                                          " (next day)" if r.ends < r.starts else "")),
        ("To", lambda r: r.recipient), ("State", lambda r: "✓ active" if r.active else "✕ off"),
        ("Added", lambda r: f"{_when(r.created_at)} by {r.created_by}"),
    ], "notifications-shifts-table", "No on-call shift: a rule for 'on-call' reaches nobody (and says so).")


def _active_rules() -> list[dict]:
    frame = rules.all_rules(context.warehouse())
    return [{"label": f"{r.rule_id}: {rules.describe(r._asdict())}", "value": r.rule_id}
            for r in frame.itertuples() if r.active]


# -- forms ---------------------------------------------------------------------------------------------
def _forms():
    sign = partial(signed_form.signature_fields, signer=context.user().display_name, meaning=rules.RULES_MEANING)
    sites = context.warehouse().query("sql/site_ids")["site_id"]
    choices = _active_rules()  # one read for both selects

    def field(label, component, width=6):
        return dbc.Col([dbc.Label(label, html_for=component.id), component], md=width, className="mb-2")

    add = dbc.Form([
        dbc.Row([
            field("Event", dbc.Select(id=ids.NOT_ADD_EVENT, value="excursion_action", options=[
                {"label": label, "value": value} for value, label in EVENT_LABELS.items()])),
            field("Site", dbc.Select(id=ids.NOT_ADD_SITE, value=rules.EVERY, options=[
                {"label": "every site", "value": rules.EVERY}, *({"label": s, "value": s} for s in sites)])),
            field("Channel", dbc.Select(id=ids.NOT_ADD_CHANNEL, value="email", options=[
                {"label": "e-mail", "value": "email"}, {"label": "webhook (signed JSON POST)", "value": "webhook"}])),
            field("E-mail address or webhook URL", dbc.Input(
                id=ids.NOT_ADD_RECIPIENT, maxLength=300, autoComplete="off",
                placeholder="an address, on-call, site-managers or leadership")),
            field("Room (optional, excursions)", dbc.Input(id=ids.NOT_ADD_ROOM, maxLength=40, autoComplete="off",
                                                           placeholder="e.g. CHI-B1")),
            field("Grade (excursions)", dbc.Select(id=ids.NOT_ADD_GRADE, value=rules.EVERY, options=[
                {"label": "every grade", "value": rules.EVERY}, *({"label": g, "value": g} for g in rules.GRADES)]), 3),
            field("Parameter (excursions)", dbc.Select(id=ids.NOT_ADD_PARAMETER, value=rules.EVERY, options=[
                {"label": "every parameter", "value": rules.EVERY}, *({"label": p, "value": p} for p in rules.PARAMETERS)]),
                  3),
            field("Delay after the event (minutes)", dbc.Input(id=ids.NOT_ADD_DELAY, type="number", min=0, value=0), 4),
            field("Remind every (minutes)", dbc.Input(id=ids.NOT_ADD_EVERY, type="number", min=0, value=0), 4),
            field("Reminders, at most", dbc.Input(id=ids.NOT_ADD_REPEATS, type="number", min=0, value=0), 4),
        ], className="g-2"),
        *sign(reason_id=ids.NOT_ADD_REASON, signature_id=ids.NOT_ADD_SIGNATURE, submit_id=ids.NOT_ADD_SUBMIT,
              result_id=ids.NOT_ADD_RESULT, done_id=ids.NOT_ADD_DONE, button="Sign and add the rule"),
    ], id="notifications-add-form")
    off = dbc.Form([
        dbc.Label("Rule", html_for=ids.NOT_OFF_RULE),
        dbc.Select(id=ids.NOT_OFF_RULE, options=choices, placeholder="Choose an active rule",
                   className="mb-2"),
        html.P("Messages it already queued still go out; it queues no new ones.", className="small"),
        *sign(reason_id=ids.NOT_OFF_REASON, signature_id=ids.NOT_OFF_SIGNATURE, submit_id=ids.NOT_OFF_SUBMIT,
              result_id=ids.NOT_OFF_RESULT, done_id=ids.NOT_OFF_DONE, button="Sign and switch the rule off"),
        html.Hr(),
        html.H3("Send a test message", className="h6"),
        dbc.Label("Rule", html_for=ids.NOT_TEST_RULE),
        dbc.Select(id=ids.NOT_TEST_RULE, options=choices, placeholder="Choose an active rule",
                   className="mb-2"),
        dbc.Button("Queue a test message", id=ids.NOT_TEST_SUBMIT, color="secondary", n_clicks=0),
        html.Div(id=ids.NOT_TEST_RESULT, role="status", className="mt-3"),
    ], id="notifications-off-form")
    return dbc.Row([signed_form.card("Add a rule", add), signed_form.card("Switch a rule off, or test it", off)],
                   className="g-3")


def _active_shifts() -> list[dict]:
    frame = context.warehouse().query("notifications/shifts_all")
    return [{"label": f"{r.shift_id}: {r.site_id} {' '.join(WEEKDAYS[d] for d in r.days)} {r.starts}–{r.ends} "
                      f"{r.recipient}", "value": r.shift_id} for r in frame.itertuples() if r.active]


def _shift_forms():
    sign = partial(signed_form.signature_fields, signer=context.user().display_name, meaning=rules.RULES_MEANING)
    sites = context.warehouse().query("sql/site_ids")["site_id"]
    add = dbc.Form([
        dbc.Row([
            dbc.Col([dbc.Label("Site", html_for=ids.NOT_SHIFT_SITE),
                     dbc.Select(id=ids.NOT_SHIFT_SITE, options=[{"label": x, "value": x} for x in sites],
                                placeholder="Choose a site")], md=6),
            dbc.Col([dbc.Label("E-mail address", html_for=ids.NOT_SHIFT_EMAIL),
                     dbc.Input(id=ids.NOT_SHIFT_EMAIL, type="email", maxLength=300, autoComplete="off")], md=6),
        ], className="g-2 mb-2"),
        dbc.Label("Starts on (weekdays)", html_for=ids.NOT_SHIFT_DAYS),
        dbc.Checklist(id=ids.NOT_SHIFT_DAYS, inline=True, value=list("12345"), className="mb-2",
                      options=[{"label": name, "value": d} for d, name in WEEKDAYS.items()]),
        dbc.Row([
            dbc.Col([dbc.Label("From (site's local time)", html_for=ids.NOT_SHIFT_FROM),
                     dbc.Input(id=ids.NOT_SHIFT_FROM, type="time", value="07:00")], md=6),
            dbc.Col([dbc.Label("To (earlier: next day; same: 24 h)", html_for=ids.NOT_SHIFT_TO),
                     dbc.Input(id=ids.NOT_SHIFT_TO, type="time", value="19:00")], md=6),
        ], className="g-2 mb-2"),
        *sign(reason_id=ids.NOT_SHIFT_REASON, signature_id=ids.NOT_SHIFT_SIGNATURE, submit_id=ids.NOT_SHIFT_SUBMIT,
              result_id=ids.NOT_SHIFT_RESULT, done_id=ids.NOT_SHIFT_DONE, button="Sign and add the shift"),
    ], id="notifications-shift-form")
    off = dbc.Form([
        dbc.Label("Shift", html_for=ids.NOT_SHIFT_OFF),
        dbc.Select(id=ids.NOT_SHIFT_OFF, options=_active_shifts(), placeholder="Choose an active shift",
                   className="mb-2"),
        *sign(reason_id=ids.NOT_SHIFT_OFF_REASON, signature_id=ids.NOT_SHIFT_OFF_SIGNATURE,
              submit_id=ids.NOT_SHIFT_OFF_SUBMIT, result_id=ids.NOT_SHIFT_OFF_RESULT, done_id=ids.NOT_SHIFT_OFF_DONE,
              button="Sign and switch the shift off"),
    ], id="notifications-shift-off-form")
    return dbc.Row([signed_form.card("Add an on-call shift", add), signed_form.card("Switch a shift off", off)],
                   className="g-3")


@callback(
    Output(ids.NOT_SHIFTS_HOST, "children"),
    Output(ids.NOT_SHIFT_OFF, "options"),
    Input(ids.NOT_SHIFT_DONE, "data"),
    Input(ids.NOT_SHIFT_OFF_DONE, "data"),
    prevent_initial_call=True,
)
def refresh_shifts(*done):
    context.require_page(PAGE)
    if not signed_form.changed(done):
        raise PreventUpdate
    return _shifts_table(), _active_shifts()


@callback(
    Output(ids.NOT_SHIFT_RESULT, "children"),
    Output(ids.NOT_SHIFT_SIGNATURE, "value"),
    Output(ids.NOT_SHIFT_DONE, "data"),
    Output(ids.NOT_SHIFT_REASON, "value"),
    Input(ids.NOT_SHIFT_SUBMIT, "n_clicks"),
    State(ids.NOT_SHIFT_SITE, "value"),
    State(ids.NOT_SHIFT_DAYS, "value"),
    State(ids.NOT_SHIFT_FROM, "value"),
    State(ids.NOT_SHIFT_TO, "value"),
    State(ids.NOT_SHIFT_EMAIL, "value"),
    State(ids.NOT_SHIFT_REASON, "value"),
    State(ids.NOT_SHIFT_SIGNATURE, "value"),
    State(ids.NOT_SHIFT_DONE, "data"),
    prevent_initial_call=True,
)
def add_shift(n_clicks, site, days, starts, ends, email, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.require_page(PAGE)
    alert, ok = signed_form.run(
        lambda: rules.signed_add_shift(
            context.warehouse(), actor_id=actor.user_id, site_id=site, days=days, starts=starts, ends=ends,
            recipient=email, reason=reason, password=password,
            attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda shift_id: [f"✓ Shift {shift_id} added. Signature recorded in the audit trail."],
        ids.NOT_SHIFT_RESULT)
    return (alert, "", signed_form.count(done), "") if ok else (alert, "", dash.no_update, dash.no_update)


@callback(
    Output(ids.NOT_SHIFT_OFF_RESULT, "children"),
    Output(ids.NOT_SHIFT_OFF_SIGNATURE, "value"),
    Output(ids.NOT_SHIFT_OFF_DONE, "data"),
    Output(ids.NOT_SHIFT_OFF_REASON, "value"),
    Input(ids.NOT_SHIFT_OFF_SUBMIT, "n_clicks"),
    State(ids.NOT_SHIFT_OFF, "value"),
    State(ids.NOT_SHIFT_OFF_REASON, "value"),
    State(ids.NOT_SHIFT_OFF_SIGNATURE, "value"),
    State(ids.NOT_SHIFT_OFF_DONE, "data"),
    prevent_initial_call=True,
)
def deactivate_shift(n_clicks, shift_id, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.require_page(PAGE)
    alert, ok = signed_form.run(
        lambda: rules.signed_deactivate_shift(context.warehouse(), actor_id=actor.user_id, shift_id=shift_id,
                                              reason=reason, password=password,
                                              attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda off: [f"✓ Shift {off} switched off. Signature recorded in the audit trail."],
        ids.NOT_SHIFT_OFF_RESULT)
    return (alert, "", signed_form.count(done), "") if ok else (alert, "", dash.no_update, dash.no_update)


@callback(
    Output(ids.NOT_ALARMS, "children"),
    Output(ids.NOT_OPEN, "children"),
    Output(ids.NOT_FAILURES, "children"),
    Output(ids.NOT_HISTORY, "children"),
    Input(ids.NOT_REFRESH, "n_intervals"),
    prevent_initial_call=True,
)
def refresh_lists(_):
    """The delivery lists, read again every REFRESH_MS (messages go out whether or not anyone looks)."""
    context.require_page(PAGE)
    return _alarms(), _open(), _failures(), _history()


@callback(
    Output(ids.NOT_RULES_HOST, "children"),
    Output(ids.NOT_OFF_RULE, "options"),
    Output(ids.NOT_TEST_RULE, "options"),
    Input(ids.NOT_ADD_DONE, "data"),
    Input(ids.NOT_OFF_DONE, "data"),
    prevent_initial_call=True,
)
def refresh_rules(*done):
    """The rules and the choices, read again after a form recorded a change (only then)."""
    context.require_page(PAGE)
    if not signed_form.changed(done):
        raise PreventUpdate
    choices = _active_rules()
    return _rules_table(), choices, choices


@callback(
    Output(ids.NOT_ADD_RESULT, "children"),
    Output(ids.NOT_ADD_SIGNATURE, "value"),
    Output(ids.NOT_ADD_DONE, "data"),
    Output(ids.NOT_ADD_REASON, "value"),
    Input(ids.NOT_ADD_SUBMIT, "n_clicks"),
    State(ids.NOT_ADD_EVENT, "value"),
    State(ids.NOT_ADD_CHANNEL, "value"),
    State(ids.NOT_ADD_RECIPIENT, "value"),
    State(ids.NOT_ADD_SITE, "value"),
    State(ids.NOT_ADD_ROOM, "value"),
    State(ids.NOT_ADD_GRADE, "value"),
    State(ids.NOT_ADD_PARAMETER, "value"),
    State(ids.NOT_ADD_DELAY, "value"),
    State(ids.NOT_ADD_EVERY, "value"),
    State(ids.NOT_ADD_REPEATS, "value"),
    State(ids.NOT_ADD_REASON, "value"),
    State(ids.NOT_ADD_SIGNATURE, "value"),
    State(ids.NOT_ADD_DONE, "data"),
    prevent_initial_call=True,
)
def add_rule(n_clicks, event, channel, recipient, site, room, grade, parameter, delay, every, repeats, reason,
             password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.require_page(PAGE)  # who signs is the session's user, never a field of the form
    alert, ok = signed_form.run(
        lambda: rules.signed_add(
            context.warehouse(), actor_id=actor.user_id, event=event, channel=channel, recipient=recipient,
            site_id=site, room_id=room, grade=grade, parameter=parameter, delay_min=delay, repeat_every_min=every,
            repeat_max=repeats, reason=reason, password=password,
            attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda added: [f"✓ Rule {added[0]} added: {rules.describe(added[1])}. Signature recorded in the audit trail."],
        ids.NOT_ADD_RESULT)
    return (alert, "", signed_form.count(done), "") if ok else (alert, "", dash.no_update, dash.no_update)


@callback(
    Output(ids.NOT_OFF_RESULT, "children"),
    Output(ids.NOT_OFF_SIGNATURE, "value"),
    Output(ids.NOT_OFF_DONE, "data"),
    Output(ids.NOT_OFF_REASON, "value"),
    Input(ids.NOT_OFF_SUBMIT, "n_clicks"),
    State(ids.NOT_OFF_RULE, "value"),
    State(ids.NOT_OFF_REASON, "value"),
    State(ids.NOT_OFF_SIGNATURE, "value"),
    State(ids.NOT_OFF_DONE, "data"),
    prevent_initial_call=True,
)
def deactivate_rule(n_clicks, rule_id, reason, password, done):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.require_page(PAGE)
    alert, ok = signed_form.run(
        lambda: rules.signed_deactivate(context.warehouse(), actor_id=actor.user_id, rule_id=rule_id, reason=reason,
                                        password=password, attempt_allowed=auth.signature_attempts_of(actor.user_id)),
        lambda off: [f"✓ Rule {off} switched off. Signature recorded in the audit trail."],
        ids.NOT_OFF_RESULT)
    return (alert, "", signed_form.count(done), "") if ok else (alert, "", dash.no_update, dash.no_update)


@callback(
    Output(ids.NOT_TEST_RESULT, "children"),
    Input(ids.NOT_TEST_SUBMIT, "n_clicks"),
    State(ids.NOT_TEST_RULE, "value"),
    prevent_initial_call=True,
)
def test_rule(n_clicks, rule_id):
    if not signed_form.clicked(n_clicks):
        raise PreventUpdate
    actor = context.require_page(PAGE)
    alert, _ = signed_form.run(
        lambda: rules.queue_test(context.warehouse(), actor_id=actor.user_id, rule_id=rule_id),
        lambda recipient: [f"✓ A test message to {recipient} is queued; it appears below once sent (or in the "
                           "failures if it cannot be delivered)."],
        ids.NOT_TEST_RESULT)
    return alert
