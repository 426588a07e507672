"""Audit trail (/audit, auditors and administrators): filter entries, export them as CSV, verify the chain."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import context, ids, inputs
from dashboard.exports import files
from dashboard.exports.provenance import Provenance
from queries.records import audit

PAGE = "/audit"
DEFAULT_DAYS = 30
SHOWN_ROWS = 200  # ~1.1 KB of table per entry: 500 rows made a 560 KB response (target: 300 KB)
dash.register_page(__name__, path=PAGE, name="Audit trail", nav=True, order=85,
                   title="Audit trail · ATMP Quality Hub")


def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    today = context.now().date()
    facets = audit.facets(context.warehouse())
    return html.Div([
        html.H1("Audit trail", className="h3"),
        html.P("Append-only and hash-chained: each entry stores the hash of the one before it, so a changed "
               "or removed entry breaks the chain. Times are UTC.", className="text-body-secondary"),
        dbc.Row([
            dbc.Col([dbc.Label("From (UTC date)", html_for=ids.AUDIT_SINCE),
                     dbc.Input(id=ids.AUDIT_SINCE, type="date", value=(today - timedelta(days=DEFAULT_DAYS))
                               .isoformat())], md=2),
            dbc.Col([dbc.Label("To (UTC date, inclusive)", html_for=ids.AUDIT_UNTIL),
                     dbc.Input(id=ids.AUDIT_UNTIL, type="date", value=today.isoformat())], md=2),
            dbc.Col([dbc.Label("User", html_for=ids.AUDIT_USER),
                     dcc.Dropdown(id=ids.AUDIT_USER, options=facets.get("user", []), placeholder="any user")],
                    md=2),
            dbc.Col([dbc.Label("Action", html_for=ids.AUDIT_ACTION),
                     dcc.Dropdown(id=ids.AUDIT_ACTION, options=facets.get("action", []),
                                  placeholder="any action")], md=2),
            dbc.Col([dbc.Label("Object contains", html_for=ids.AUDIT_OBJECT),
                     dbc.Input(id=ids.AUDIT_OBJECT, type="text", placeholder="e.g. CHI", maxLength=100)], md=2),
            dbc.Col(dbc.Button("Apply filters", id=ids.AUDIT_APPLY, color="primary", className="w-100"),
                    md=2, className="d-flex align-items-end"),
        ], className="g-2 mb-3", id=ids.AUDIT_FILTERS),
        html.Div([
            dbc.Button("Verify the chain", id=ids.AUDIT_VERIFY, color="secondary"),
            dbc.Button("Export filtered entries (CSV)", id=ids.AUDIT_CSV, color="secondary"),
            dcc.Download(id=ids.AUDIT_DOWNLOAD),
        ], className="d-flex gap-2 mb-2"),
        dcc.Loading(html.Div(id=ids.AUDIT_VERIFY_RESULT, role="status", className="mb-2"), type="dot"),
        html.P(id=ids.AUDIT_COUNT, className="small text-body-secondary", role="status"),
        dcc.Loading(html.Div(id=ids.AUDIT_TABLE), type="dot"),
    ])


def _day(value, fallback: date) -> date:
    """A date from the browser: not a date gives the fallback; one before 2000 or after 2100 is clamped into
    that range (the trail starts after 2000, and a day past 9999-12-31 does not exist)."""
    return inputs.as_date(value, fallback)


def _text(value) -> str:
    """A filter's text: a string (a number as its digits), cut to 100 characters; anything else none."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return (inputs.as_text(value) or "")[:100]


def _filters(since, until, user_id, action, object_text) -> dict:
    """Filter values from the browser, made safe: dates parsed and clamped, text cut; they only ever narrow."""
    today = context.now().date()
    start = _day(since, today - timedelta(days=DEFAULT_DAYS))
    end = _day(until, today)
    return {"since": datetime.combine(start, datetime.min.time()),
            "until": datetime.combine(end + timedelta(days=1), datetime.min.time()),
            "user_id": _text(user_id), "action": _text(action), "object_text": _text(object_text)}


def _clamp_note(since, until) -> str:
    """What the count line says when a date was moved into the range the page accepts."""
    if inputs.date_clamped(since) or inputs.date_clamped(until):
        return (f" Dates before {inputs.MIN_DATE:%Y-%m-%d} or after {inputs.MAX_DATE:%Y-%m-%d} were moved to "
                "that limit.")
    return ""


FILTER_STATES = [State(ids.AUDIT_SINCE, "value"), State(ids.AUDIT_UNTIL, "value"), State(ids.AUDIT_USER, "value"),
                 State(ids.AUDIT_ACTION, "value"), State(ids.AUDIT_OBJECT, "value")]


@callback(Output(ids.AUDIT_TABLE, "children"), Output(ids.AUDIT_COUNT, "children"),
          Input(ids.AUDIT_APPLY, "n_clicks"), *FILTER_STATES)
def show(_clicks, since, until, user_id, action, object_text):
    context.require_page(PAGE)
    f = _filters(since, until, user_id, action, object_text)
    entries = audit.search(context.warehouse(), **f, limit=SHOWN_ROWS + 1)
    more = len(entries) > SHOWN_ROWS
    entries = entries.head(SHOWN_ROWS)
    count = (f"{len(entries)} entries, newest first" + (f" (first {SHOWN_ROWS}; narrow the filters or export "
                                                          "the CSV for all)" if more else "")
             + _clamp_note(since, until))
    return entry_table(entries), count


def entry_table(entries: pd.DataFrame):
    """Short columns that fit a 1920 px screen; the old and new values (often JSON), the signature's meaning
    and the full hashes open per entry on demand. The table scrolls inside a focusable region, so a
    keyboard reaches every cell."""
    if entries.empty:
        return html.P("No entries match these filters.", className="text-body-secondary")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "#", "Time (UTC)", "User", "Action", "Object", "Reason", "Details", "Hash")]))
    rows = [html.Tr([
        html.Td(str(r.entry_id)), html.Td(f"{pd.Timestamp(r.ts):%Y-%m-%d %H:%M:%S}", className="text-nowrap"),
        html.Td(_s(r.user_id)), html.Td(_s(r.action)),
        html.Td(_short(_object(r)), title=_object(r), className="audit-object"),
        html.Td(_short(_s(r.reason)), title=_s(r.reason), className="audit-reason"),
        html.Td(_details(r)),
        html.Td(html.Code(str(r.entry_hash)[:12], title=str(r.entry_hash))),
    ]) for r in entries.itertuples()]
    table = dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="audit-table mb-0", id="audit-entries")
    return html.Div(table, className="table-responsive audit-scroll", tabIndex="0", role="region",
                    **{"aria-label": "Audit entries (scrolls)"})


SHORT = 60  # characters of an object or reason shown in the row; the rest in its details and tooltip


def _object(r) -> str:
    return " / ".join(v for v in (_s(r.object_type), _s(r.object_id)) if v)


def _short(text: str) -> str:
    return text if len(text) <= SHORT else text[:SHORT - 1] + "…"


def _details(r) -> html.Details | str:
    parts = [(label, _s(value)) for label, value in (("Old value", r.old_value), ("New value", r.new_value),
                                                     ("Meaning", r.meaning))]
    parts = [(label, value) for label, value in parts if value]
    parts += [(label, text) for label, text in (("Object", _object(r)), ("Reason", _s(r.reason)))
              if len(text) > SHORT]
    parts += [("Entry hash", str(r.entry_hash)), ("Previous hash", _s(r.prev_hash))]
    shown = [p for p in parts if p[0] not in ("Entry hash", "Previous hash")]
    summary = ", ".join(label.lower() for label, _ in shown) or "hashes"
    return html.Details([
        html.Summary(summary),
        html.Dl([item for label, value in parts
                 for item in (html.Dt(label), html.Dd(html.Pre(value, className="audit-value mb-1", tabIndex="0")))],
                className="mb-0"),
    ])


def _s(value) -> str:
    return "" if value is None or value != value else str(value)


@callback(Output(ids.AUDIT_VERIFY_RESULT, "children"), Input(ids.AUDIT_VERIFY, "n_clicks"),
          prevent_initial_call=True)
def verify(_clicks):
    user = context.require_page(PAGE)
    check = audit.verify(context.warehouse())
    audit.append(context.warehouse(), user_id=user.user_id, action="audit_verified",
                 new_value=json.dumps({"ok": check.ok, "entries": check.entries,
                                       "first_bad_entry": check.first_bad_entry}))
    if check.ok:
        return dbc.Alert([html.Span("✓ ", **{"aria-hidden": "true"}),
                          f"Chain intact: all {check.entries} entries verified."], color="success",
                         className="mb-0", id="audit-verify-ok")
    return dbc.Alert([html.Span("✕ ", **{"aria-hidden": "true"}), html.Strong("Chain broken. "),
                      f"First bad entry: #{check.first_bad_entry} — {check.problem}."], color="danger",
                     className="mb-0", id="audit-verify-broken")


@callback(Output(ids.AUDIT_DOWNLOAD, "data"), Input(ids.AUDIT_CSV, "n_clicks"), *FILTER_STATES,
          prevent_initial_call=True)
def export_csv(clicks, since, until, user_id, action, object_text):
    if not clicks:
        return no_update
    user = context.require_page(PAGE)
    f = _filters(since, until, user_id, action, object_text)
    entries = audit.search(context.warehouse(), **f, limit=5000)
    filters = {"Page": "Audit trail", "User filter": f["user_id"] or "any", "Action filter": f["action"] or "any",
               "Object filter": f["object_text"] or "any", "Rows": f"{len(entries)} (newest first, at most 5000)"}
    prov = Provenance(title="Audit trail", filters=filters, window_start=f["since"], window_end=f["until"],
                      data_as_of=None if entries.empty else pd.Timestamp(entries.ts.max()).to_pydatetime(),
                      kpis=(), user_id=user.user_id, user_name=user.display_name, role=user.role)
    content = files.to_csv(entries, prov)
    filename = f"atmp_audit_trail_{prov.exported_at:%Y%m%dT%H%M%SZ}.csv"
    audit.append(context.warehouse(), user_id=user.user_id, action="export", object_type="audit",
                 object_id="audit_trail", new_value=json.dumps({
                     "format": "csv", "file": filename, "sha256": hashlib.sha256(content).hexdigest(),
                     "export_id": prov.export_id, "window": prov.window_text, "filters": filters}))
    return dcc.send_bytes(content, filename, type=files.MIME["csv"])
