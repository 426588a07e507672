"""CAPA record (/capa/<capa_id>): opened, due and closed in site-local time, the action, its
effectiveness check, the deviation it answers, and the deviations of the same root cause at the site
since it was opened (what the effectiveness check has to explain). Scoped on the server."""

from __future__ import annotations

import dash
from dash import html

from dashboard import context
from dashboard.components.formatting import is_missing, to_local
from dashboard.components.record_links import record_link
from dashboard.components.record_views import facts, record_layout, record_table, site_link
from queries.records import quality_records as qr

PAGE = "/capa/<capa_id>"
dash.register_page(__name__, path_template=PAGE, name="CAPA", title="CAPA · ATMP Quality Hub")


def layout(capa_id=None, **_):
    return record_layout(PAGE, "CAPA", qr.capa_record, capa_id, page)


def page(record):
    c, tz = record.capa, record.capa["timezone"]
    overdue = is_missing(c["closed_at"]) and context.now() > c["due_at"]
    if is_missing(c["effective"]):
        effectiveness = "not checked yet"
    else:
        effectiveness = ("✓ effective" if c["effective"] else "✕ not effective") + \
            f" (checked {to_local(c['effectiveness_checked_at'], tz)})"
    after = record.recurred_after
    return html.Div([
        site_link(c["site_id"], c["site_name"]),
        html.H1(f"CAPA {c['capa_id']}", className="h3", id="record-title"),
        html.P(c["description"] or "No action recorded.", className="lead"),
        facts([
            ("Site", f"{c['site_name']} ({c['site_id']})"),
            ("Deviation", record_link("deviation", c["deviation_id"])),
            ("Root cause", c["root_cause_code"] if not is_missing(c["root_cause_code"]) else "–"),
            ("Opened", to_local(c["opened_at"], tz)),
            ("Due", to_local(c["due_at"], tz) + (" (✕ overdue)" if overdue else "")),
            ("Closed", "open" if is_missing(c["closed_at"]) else to_local(c["closed_at"], tz)),
            ("Effectiveness", effectiveness),
        ], "capa-facts"),
        html.H2("The same root cause at this site since the CAPA was opened", className="h5 mt-4"),
        record_table(after.assign(
            deviation=after["deviation_id"].map(lambda i: record_link("deviation", i)),
            detected=after["detected_at"].map(lambda t: to_local(t, tz)),
            closed=after["closed_at"].map(lambda t: "open" if is_missing(t) else to_local(t, tz))),
            {"deviation": "Deviation", "detected": "Detected", "severity": "Severity", "closed": "Closed"},
            "capa-recurred", "None since it was opened."),
        html.P(f"Times in {tz}.", className="small text-body-secondary"),
    ], id="capa-record")
