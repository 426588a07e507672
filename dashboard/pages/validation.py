"""Validation reports (/validation): the reports `atmp-hub validate` registered, whether their files still have
the SHA-256 they were registered with, and the signatures on them; quality leadership reviews, then another
person approves, each by electronic signature (queries/records/validation_reports.py checks it all again)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import auth, context, ids
from dashboard.components.formatting import utc_label
from dashboard.components.signed_form import clicked, count
from dashboard.components.tables import table
from dashboard.validation_files import file_url
from queries.records import validation_reports as vr

PAGE = "/validation"
dash.register_page(__name__, path=PAGE, name="Validation", nav=True, order=88,
                   title="Validation · ATMP Quality Hub")


def _sign_form(signer: str) -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H2("Sign a report", className="h5"),
        html.P("Electronic signature: your user id and password. A report is reviewed first, then approved by "
               "another person; each signature names the report's JSON record by its SHA-256.", className="small"),
        dbc.Label("Report", html_for=ids.VAL_REPORT),
        dcc.Dropdown(id=ids.VAL_REPORT, options=[], placeholder="Choose a report awaiting a signature",
                     className="mb-2"),
        dbc.Label("Meaning of the signature", html_for=ids.VAL_MEANING),
        dbc.RadioItems(id=ids.VAL_MEANING, className="mb-2", value=None,
                       options=[{"label": text, "value": meaning} for meaning, text in vr.MEANINGS.items()]),
        dbc.Label("Comment (required): what was reviewed, and how each deviation is dispositioned",
                  html_for=ids.VAL_COMMENT),
        dbc.Textarea(id=ids.VAL_COMMENT, maxLength=vr.COMMENT_MAX, rows=3, className="mb-2"),
        dbc.Label(f"Password of {signer}", html_for=ids.VAL_PASSWORD),
        dbc.Input(id=ids.VAL_PASSWORD, type="password", autoComplete="current-password", className="mb-3"),
        dbc.Button("Sign the report", id=ids.VAL_SUBMIT, color="primary", n_clicks=0),
        html.Div(id=ids.VAL_RESULT, role="status", className="mt-3"),
    ]), className="mt-3")


def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    user = context.user()
    may_sign = user.role in vr.SIGNING_ROLES
    return html.Div([
        html.H1("Validation reports", className="h3"),
        html.P(["Each report is the installation and operational qualification of this installation, written by ",
                html.Code("make validate"), " (", html.Code("atmp-hub validate"), ") as a JSON record and a PDF, "
                "and registered here with both files' SHA-256. Times are UTC."], className="text-body-secondary"),
        html.Div(id=ids.VAL_REPORTS),
        dcc.Store(id=ids.VAL_DONE, data=0),
        html.Div(_sign_form(user.display_name), hidden=not may_sign, id="validation-sign-section"),
        html.P("Read-only: validation reports are signed by quality leadership.",
               className="small text-body-secondary mt-2", hidden=may_sign),
    ])


def _signature(report: dict, meaning: str) -> str:
    found = [s for s in report["signatures"] if s["meaning"] == meaning]
    return "–" if not found else f"{found[0]['signed_by']}, {utc_label(found[0]['signed_at'])}: {found[0]['comment']}"


def report_table(reports: list[dict]):
    rows = pd.DataFrame([{
        "report_id": r["report_id"], "created": utc_label(r["created_at"]), "verdict": r["verdict"],
        "verified": f"{r['verified']} of {r['verifiable']}", "commit": (r["git_commit"] or "–")[:12],
        "json": r["json_sha256"][:16] + "…", "files": r["files"],
        "reviewed": _signature(r, "reviewed"), "approved": _signature(r, "approved")} for r in reports])
    return table(rows, {"report_id": "Report", "created": "Created", "verdict": "Verdict",
                        "verified": "Requirements verified by test", "commit": "Code commit",
                        "json": "JSON record SHA-256", "files": "Files", "reviewed": "Reviewed",
                        "approved": "Approved"},
                 "validation-report-table", "No validation report registered yet: run make validate.", cell=_cell)


def _cell(column: str, value, row):
    """The report id with links to its PDF and JSON record (served while they keep their registered hash)."""
    if column != "report_id":
        return value
    return [value, html.Br(), html.A("PDF", href=file_url(value, "pdf")), " · ",
            html.A("JSON", href=file_url(value, "json"))]


@callback(
    Output(ids.VAL_REPORTS, "children"),
    Output(ids.VAL_REPORT, "options"),
    Input(ids.VAL_DONE, "data"),
)
def report_list(_signed):
    context.require_page(PAGE)
    reports = vr.reports(context.warehouse())
    waiting = [{"label": f"{r['report_id']} · {utc_label(r['created_at'])} · {r['verdict']}", "value": r["report_id"]}
               for r in reports if len(r["signatures"]) < len(vr.MEANINGS)]
    return report_table(reports), waiting


@callback(
    Output(ids.VAL_RESULT, "children"),
    Output(ids.VAL_PASSWORD, "value"),
    Output(ids.VAL_COMMENT, "value"),
    Output(ids.VAL_DONE, "data"),
    Input(ids.VAL_SUBMIT, "n_clicks"),
    State(ids.VAL_REPORT, "value"),
    State(ids.VAL_MEANING, "value"),
    State(ids.VAL_COMMENT, "value"),
    State(ids.VAL_PASSWORD, "value"),
    State(ids.VAL_DONE, "data"),
    prevent_initial_call=True,
)
def sign(n_clicks, report_id, meaning, comment, password, done):
    if not clicked(n_clicks):
        raise PreventUpdate
    # The signer and their role are the server's; the browser supplies the report, meaning, comment, password.
    user = context.require_page(PAGE)
    try:
        signed = vr.sign(context.warehouse(), user_id=user.user_id, role=user.role, report_id=report_id,
                         meaning=meaning, comment=comment, password=password, now=context.now(),
                         attempt_allowed=auth.signature_attempts_of(user.user_id))
    except vr.Refused as refused:
        return dbc.Alert(["✕ Not signed: ", str(refused)], color="danger", className="mb-0",
                         id="validation-sign-refused"), "", dash.no_update, dash.no_update
    return dbc.Alert([f"✓ Report {signed.report_id} {signed.meaning} by {signed.user_id} at "
                      f"{signed.at:%Y-%m-%d %H:%M:%S} UTC (JSON record ", html.Code(signed.json_sha256[:16]),
                      "…). Recorded in the audit trail."], color="success", className="mb-0",
                     id="validation-sign-done"), "", "", count(done)
