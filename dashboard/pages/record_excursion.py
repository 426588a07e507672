"""Excursion record (/excursion/<excursion_id>): the sensor and room, alert or action level, start,
detection and end in site-local time, the peak, its acknowledgement, the deviation it raised, and its
product impact (the batches in the room while it lasted). Scoped on the server."""

from __future__ import annotations

import dash
from dash import html

from dashboard.components.formatting import format_reading, is_missing, to_local
from dashboard.components.record_links import record_link
from dashboard.components.record_views import facts, record_layout, record_table, site_link
from queries.records import quality_records as qr

PAGE = "/excursion/<excursion_id>"
dash.register_page(__name__, path_template=PAGE, name="Excursion", title="Excursion · ATMP Quality Hub")


def layout(excursion_id=None, **_):
    return record_layout(PAGE, "excursion", qr.excursion_record, excursion_id, page)


def page(record):
    e, tz = record.excursion, record.excursion["timezone"]
    if is_missing(e["acknowledged_at"]):
        acknowledged = "not acknowledged"
    else:
        acknowledged = f"{to_local(e['acknowledged_at'], tz)} by {e['acknowledged_by']}" + (
            f": {e['ack_comment']}" if not is_missing(e["ack_comment"]) and e["ack_comment"] else "")
    batches = record.batches
    return html.Div([
        site_link(e["site_id"], e["site_name"]),
        html.H1(f"Excursion {e['excursion_id']}", className="h3", id="record-title"),
        facts([
            ("Site", f"{e['site_name']} ({e['site_id']})"),
            ("Room", f"{e['room_name']} (grade {e['grade']})" if not is_missing(e["room_name"]) else e["room_id"]),
            ("Sensor", f"{e['sensor_id']} · {e['parameter']}"),
            ("Level", e["level"]),
            ("Started", to_local(e["started_at"], tz)),
            ("Detected", to_local(e["detected_at"], tz)),
            ("Ended", "open" if is_missing(e["ended_at"]) else to_local(e["ended_at"], tz)),
            ("Peak", format_reading(e["peak"], e["parameter"], e["unit"] if not is_missing(e["unit"]) else "")),
            ("Acknowledged", acknowledged),
            ("Deviation", record_link("deviation", e["deviation_id"])),
        ], "excursion-facts"),
        html.H2("Product impact: batches in the room while it lasted", className="h5 mt-4"),
        record_table(batches.assign(
            batch=batches["batch_id"].map(lambda b: record_link("batch", b)),
            started=batches["started_at"].map(lambda t: to_local(t, tz)),
            completed=batches["completed_at"].map(lambda t: "in process" if is_missing(t) else to_local(t, tz)),
            status_text=batches["status"].str.replace("_", " ")),
            {"batch": "Batch", "product": "Product", "started": "Started", "completed": "Completed",
             "status_text": "Status"}, "excursion-batches", "No batch was in the room while it lasted."),
        html.P(f"Times in {tz}.", className="small text-body-secondary"),
    ], id="excursion-record")
