"""The excursion list of a site (with potential product impact) and the acknowledgement form."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from dashboard import ids
from dashboard.components.excursion_tiles import format_age, level_badge
from dashboard.components.formatting import format_reading, to_local
from dashboard.components.record_links import record_link
from queries.analyses.monitoring import DEVIATION_DECISIONS, PARAMETER_LABELS, SIGNATURE_MEANING


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


DEVIATION_STATE = {None: "proposed, awaiting QA review", "confirmed": "confirmed deviation",
                   "rejected": "proposal rejected"}
DECISION_LABELS = {"keep": "Leave it proposed for QA review", "confirm": "Confirm it as a deviation (it then counts in the KPIs)",
                   "reject": "Reject it: not a deviation"}
assert DECISION_LABELS.keys() == DEVIATION_DECISIONS.keys()


def deviation_text(deviation_id, decision, *, link: bool = False):
    """A proposed deviation is shown as a proposal until a person confirms it; a recorded one may link to
    its record."""
    if _missing(deviation_id):
        return "–"
    state = DEVIATION_STATE[None if _missing(decision) else decision]
    if link and decision == "confirmed":
        return html.Span([record_link("deviation", deviation_id), f" ({state})"])
    return f"{deviation_id} ({state})"


def excursion_table(frame: pd.DataFrame, tz: str, now, *, show_names: bool, link_records: bool = False) -> html.Div:
    """Open excursions first, then the recent ones; names of signers hidden when show_names is False;
    excursion, batch and deviation ids link to their records when link_records (roles that may open them)."""
    if frame.empty:
        return html.P("No excursions in the last 30 days.", id="excursion-list-empty")
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Level", "Parameter", "Room", "Started", "Detected", "Ended", "Peak", "Potential product impact",
        "Deviation", "Acknowledged")]))
    rows = []
    for r in frame.to_dict("records"):
        if _missing(r["ended_at"]):
            ended = html.Span(["open · ", format_age((pd.Timestamp(now) - pd.Timestamp(r["started_at"])).total_seconds())],
                              className="fw-semibold")
        else:
            ended = f"{to_local(r['ended_at'], tz)} ({format_age((r['ended_at'] - r['started_at']).total_seconds())})"
        batches = r["batches"]
        if not batches:
            impact = "no batch in the room"
        elif link_records:
            impact = [part for i, b in enumerate(batches) for part in ((", " if i else ""), record_link("batch", b))]
        else:
            impact = ", ".join(batches)
        if _missing(r["acknowledged_at"]):
            ack = html.Span("✕ not acknowledged", className="status-off")
        else:
            who = f" by {r['acknowledged_by']}" if show_names else ""
            ack = html.Span(f"✓ {to_local(r['acknowledged_at'], tz)}{who}", className="status-ok",
                            title=r["ack_comment"] if show_names and not _missing(r["ack_comment"]) else None)
        rows.append(html.Tr([
            html.Td([level_badge(r["level"])] + ([html.Br(), record_link("excursion", r["excursion_id"])]
                                                  if link_records else [])),
            html.Td(PARAMETER_LABELS.get(r["parameter"], r["parameter"])),
            html.Td(r["room_name"]),
            html.Td(to_local(r["started_at"], tz)),
            html.Td(to_local(r["detected_at"], tz)),
            html.Td(ended),
            html.Td(format_reading(r["peak"], r["parameter"], r["unit"])),
            html.Td(impact, className="excursion-impact"),
            html.Td(deviation_text(r["deviation_id"], r["deviation_decision"], link=link_records), className="small"),
            html.Td(ack),
        ], id={"type": "excursion-row", "excursion": r["excursion_id"]}))
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, responsive=True,
                     className="excursion-list align-middle", id="excursion-list")


def ack_options(frame: pd.DataFrame, tz: str) -> list[dict]:
    """Unacknowledged excursions, as dropdown options (the server re-checks every one on submit)."""
    pending = frame[frame["acknowledged_at"].isna()] if not frame.empty else frame
    return [{"label": f"{r['level']} · {PARAMETER_LABELS.get(r['parameter'], r['parameter'])} · {r['room_name']} · "
                      f"{to_local(r['started_at'], tz)}", "value": r["excursion_id"]}
            for r in pending.to_dict("records")]


def ack_form(user_name: str, role_label: str) -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H2("Acknowledge an excursion", className="h5"),
        html.P(["Electronic signature: your user id and password. ", html.Strong("Meaning of the signature: "),
                SIGNATURE_MEANING], className="small", id="ack-meaning"),
        dbc.Label("Excursion", html_for=ids.MON_ACK_EXCURSION),
        dcc.Dropdown(id=ids.MON_ACK_EXCURSION, options=[], placeholder="Choose an unacknowledged excursion",
                     className="mb-2"),
        *ack_fields(ids.MON_ACK_COMMENT, ids.MON_ACK_DEVIATION, ids.MON_ACK_PASSWORD, ids.MON_ACK_SUBMIT,
                    ids.MON_ACK_RESULT, f"Password of {user_name} ({role_label})"),
    ]), className="ack-form mt-3")


def ack_fields(comment_id: str, deviation_id: str, password_id: str, submit_id: str, result_id: str,
               password_label: str) -> list:
    """An acknowledgement's signed fields: comment, the proposed deviation's fate, password, button, result
    (the monitoring page's form and the remote acknowledgement page, dashboard/pages/ack_link.py)."""
    return [
        dbc.Label("Comment (required): what was reviewed and decided", html_for=comment_id),
        dbc.Textarea(id=comment_id, maxLength=1000, rows=3, className="mb-2"),
        dbc.Label("The deviation the excursion proposed (if any)", html_for=deviation_id),
        dbc.RadioItems(id=deviation_id, value="keep", className="mb-2",
                       options=[{"label": label, "value": key} for key, label in DECISION_LABELS.items()]),
        dbc.Label(password_label, html_for=password_id),
        dbc.Input(id=password_id, type="password", autoComplete="current-password", className="mb-3"),
        dbc.Button("Sign and acknowledge", id=submit_id, color="primary", n_clicks=0),
        html.Div(id=result_id, role="status", className="mt-3"),
    ]


def ack_refused(reason: str) -> dbc.Alert:
    return dbc.Alert(["✕ Not acknowledged: ", reason], color="danger", className="mb-0", id="ack-refused")


def ack_done(done, then: str = "") -> dbc.Alert:
    """What a recorded acknowledgement (queries.analyses.monitoring.Acknowledged) says; `then` adds a sentence."""
    return dbc.Alert([f"✓ {done.excursion_id} acknowledged by {done.user_id} at {done.at:%Y-%m-%d %H:%M:%S} UTC{then}. "
                      "Signature recorded in the audit trail (record hash ", html.Code(done.record_sha256[:12]),
                      "…)."], color="success", className="mb-0", id="ack-done")
