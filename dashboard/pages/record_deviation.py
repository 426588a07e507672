"""Deviation record (/deviation/<deviation_id>): when it occurred, was detected and closed (site-local
time with the zone), what it was, the excursion it came from, its CAPAs, the batches it touches, and the
earlier deviations of the same root cause. Scoped on the server: an id outside the reader's sites is
"not found", like an id that does not exist."""

from __future__ import annotations

import dash
import pandas as pd
from dash import html

from dashboard.components.formatting import is_missing, to_local
from dashboard.components.record_links import record_link
from dashboard.components.record_views import facts, record_layout, record_table, site_link
from queries.records import quality_records as qr

PAGE = "/deviation/<deviation_id>"
dash.register_page(__name__, path_template=PAGE, name="Deviation", title="Deviation · ATMP Quality Hub")


def layout(deviation_id=None, **_):
    return record_layout(PAGE, "deviation", qr.deviation_record, deviation_id, page)


def page(record):
    d, tz = record.deviation, record.deviation["timezone"]
    return html.Div([
        site_link(d["site_id"], d["site_name"]),
        html.H1(f"Deviation {d['deviation_id']}", className="h3", id="record-title"),
        html.P(d["description"] or "No description recorded.", className="lead"),
        facts([
            ("Site", f"{d['site_name']} ({d['site_id']})"),
            ("Occurred", to_local(d["occurred_at"], tz)),
            ("Detected", to_local(d["detected_at"], tz)),
            ("Closed", "open" if is_missing(d["closed_at"]) else to_local(d["closed_at"], tz)),
            ("Severity", d["severity"]),
            ("Category", d["category"]),
            ("Root cause", d["root_cause_code"]),
            ("SOP", d["sop_id"] if not is_missing(d["sop_id"]) else "–"),
            ("Source", d["source"]),
            ("Human factors", str(d["human_factors"]).replace("_", " ")),
            ("Batch", record_link("batch", d["batch_id"])),
        ], "deviation-facts"),
        html.P(f"Times in {tz}.", className="small text-body-secondary"),
        html.H2("Excursion it came from", className="h5 mt-4"),
        excursion_facts(record.excursion, tz),
        html.H2("CAPAs", className="h5 mt-4"),
        capa_table(record.capas, tz),
        html.H2("Batches it touches", className="h5 mt-4"),
        record_table(record.batches.assign(
            batch=record.batches["batch_id"].map(lambda b: record_link("batch", b)),
            started=record.batches["started_at"].map(lambda t: to_local(t, tz)),
            completed=record.batches["completed_at"].map(lambda t: to_local(t, tz)),
            status_text=record.batches["status"].str.replace("_", " ")),
            {"batch": "Batch", "product": "Product", "started": "Started", "completed": "Completed",
             "status_text": "Status", "relation": "How"}, "deviation-batches", "No batch recorded on this deviation."),
        html.H2("Recurrence: earlier deviations with the same root cause", className="h5 mt-4"),
        recurrence(record, tz),
    ], id="deviation-record")


def excursion_facts(excursion: pd.Series | None, tz: str):
    if excursion is None:
        return html.P("None: this deviation was not raised by an EM excursion.", className="text-body-secondary",
                      id="deviation-excursion")
    return facts([
        ("Excursion", record_link("excursion", excursion["excursion_id"])),
        ("Room", f"{excursion['room_name']} (grade {excursion['grade']})"),
        ("Sensor", f"{excursion['sensor_id']} · {excursion['parameter']}"),
        ("Level", excursion["level"]),
        ("Started", to_local(excursion["started_at"], tz)),
        ("Ended", "open" if is_missing(excursion["ended_at"]) else to_local(excursion["ended_at"], tz)),
        ("Peak", f"{excursion['peak']:g}"),
    ], "deviation-excursion")


def capa_table(capas: pd.DataFrame, tz: str):
    def effectiveness(row) -> str:
        if is_missing(row["effective"]):
            return "not checked yet"
        return ("✓ effective" if row["effective"] else "✕ not effective") + \
            f" (checked {to_local(row['effectiveness_checked_at'], tz)})"
    shown = capas.assign(
        opened=capas["opened_at"].map(lambda t: to_local(t, tz)),
        due=capas["due_at"].map(lambda t: to_local(t, tz)),
        closed=capas["closed_at"].map(lambda t: "open" if is_missing(t) else to_local(t, tz)),
        effectiveness=[effectiveness(r) for _, r in capas.iterrows()],
        capa=capas["capa_id"].map(lambda i: record_link("capa", i)))
    return record_table(shown, {"capa": "CAPA", "opened": "Opened", "due": "Due", "closed": "Closed",
                                "effectiveness": "Effectiveness", "description": "Action"},
                        "deviation-capas", "No CAPA opened for this deviation.")


def recurrence(record: qr.DeviationRecord, tz: str):
    days = record.recurrence_days
    here = record.earlier_here.assign(
        deviation=record.earlier_here["deviation_id"].map(lambda i: record_link("deviation", i)),
        detected=record.earlier_here["detected_at"].map(lambda t: to_local(t, tz)),
        before=record.earlier_here["days_before"].map(
            lambda v: f"{v:.0f} days" + (f" (within the KPI's {days})" if v <= days else "")))
    parts = [
        html.P(f"Same root cause ({record.deviation['root_cause_code']}) in the {qr.RECURRENCE_LOOKBACK_DAYS} days "
               f"before this deviation was detected; the recurrence KPI counts those within {days} days.",
               className="small"),
        html.H3("At this site", className="h6"),
        record_table(here, {"deviation": "Deviation", "detected": "Detected", "before": "Before this one",
                            "severity": "Severity"}, "deviation-recurrence-here", "None at this site."),
    ]
    others = record.earlier_other_visible
    if len(others):  # sites in the reader's scope: each deviation a link, newest first, by site
        parts.append(html.H3("At other sites you may see", className="h6"))
        parts.append(html.Ul([
            html.Li([html.Strong(f"{site} ({len(group)}): ")]
                    + [part for i, d in enumerate(group["deviation_id"])
                       for part in ((", " if i else ""), record_link("deviation", d))])
            for site, group in others.groupby("site_id", sort=True)], id="deviation-recurrence-visible"))
    if record.earlier_elsewhere is not None:  # None: the reader may not see network aggregates
        n, sites = record.earlier_elsewhere
        if n:  # sites outside the reader's scope: counts only
            parts.append(html.P(f"At other sites of the network: {n} deviation(s) at {sites} site(s).",
                                id="deviation-recurrence-elsewhere"))
        elif others.empty:
            parts.append(html.P("At other sites: none.", id="deviation-recurrence-elsewhere"))
    return html.Div(parts)

