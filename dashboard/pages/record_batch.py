"""Batch record (/batch/<batch_id>): its CQAs against the release specification (not tested yet where
there is no result), the room and the EM excursions that overlapped its manufacture, its deviations, and
its stages from collection to infusion (where the vein-to-vein days went). Scoped on the server like the
deviation record."""

from __future__ import annotations

import dash
import pandas as pd
from dash import html

from dashboard.components.formatting import CQA_VERDICT_TEXT, is_missing, to_local
from dashboard.components.record_links import record_link
from dashboard.components.record_views import facts, record_layout, record_table, site_link
from queries.analyses.signals import CQA_LABELS
from queries.records import quality_records as qr

PAGE = "/batch/<batch_id>"
dash.register_page(__name__, path_template=PAGE, name="Batch", title="Batch · ATMP Quality Hub")


def layout(batch_id=None, **_):
    return record_layout(PAGE, "batch", qr.batch_record, batch_id, page)


def page(record):
    b, tz = record.batch, record.batch["timezone"]
    return html.Div([
        site_link(b["site_id"], b["site_name"]),
        html.H1(f"Batch {b['batch_id']}", className="h3", id="record-title"),
        facts([
            ("Site", f"{b['site_name']} ({b['site_id']})"),
            ("Product", f"{b['product']} · {b['process_version']}"),
            ("Room", f"{b['room_name']} (grade {b['grade']})" if not is_missing(b["room_name"]) else b["room_id"]),
            ("Status", str(b["status"]).replace("_", " ")),
            ("CQAs", CQA_VERDICT_TEXT[record.verdict]),
        ], "batch-facts"),
        html.H2("CQAs against the release specification", className="h5 mt-4"),
        cqa_table(record.cqas),
        html.H2("From collection to infusion", className="h5 mt-4"),
        stage_table(record.stages, tz),
        html.H2("EM excursions in its room during manufacture", className="h5 mt-4"),
        record_table(record.excursions.assign(
            started=record.excursions["started_at"].map(lambda t: to_local(t, tz)),
            ended=record.excursions["ended_at"].map(lambda t: "open" if is_missing(t) else to_local(t, tz)),
            peak_text=record.excursions["peak"].map(lambda v: f"{v:g}"),
            deviation=record.excursions["deviation_id"].map(lambda i: record_link("deviation", i)),
            excursion=record.excursions["excursion_id"].map(lambda i: record_link("excursion", i))),
            {"excursion": "Excursion", "sensor_id": "Sensor", "parameter": "Parameter", "level": "Level",
             "started": "Started", "ended": "Ended", "peak_text": "Peak", "deviation": "Deviation"},
            "batch-excursions", "No excursion in its room while it was made."),
        html.H2("Deviations recorded on it", className="h5 mt-4"),
        record_table(record.deviations.assign(
            deviation=record.deviations["deviation_id"].map(lambda i: record_link("deviation", i)),
            detected=record.deviations["detected_at"].map(lambda t: to_local(t, tz)),
            closed=record.deviations["closed_at"].map(lambda t: "open" if is_missing(t) else to_local(t, tz))),
            {"deviation": "Deviation", "detected": "Detected", "closed": "Closed", "severity": "Severity",
             "root_cause_code": "Root cause", "source": "Source"}, "batch-deviations", "No deviation on this batch."),
        html.P(f"Times in {tz}.", className="small text-body-secondary"),
    ], id="batch-record")


def cqa_table(cqas: pd.DataFrame):
    def limits(row) -> str:
        parts = ([f"≥ {row['lower_limit']:g}"] if not is_missing(row["lower_limit"]) else []) + \
                ([f"≤ {row['upper_limit']:g}"] if not is_missing(row["upper_limit"]) else [])
        return " and ".join(parts) or "–"
    symbols = {"within specification": "✓ ", "out of specification": "✕ ", "not tested yet": "… "}
    shown = cqas.assign(
        name=cqas["cqa"].map(lambda c: CQA_LABELS.get(c, c)),
        spec=[f"{limits(r)} {r['unit']}".strip() for _, r in cqas.iterrows()],
        result=cqas["value"].map(lambda v: "–" if is_missing(v) else f"{v:.3g}"),
        status=cqas["verdict"].map(lambda v: symbols[v] + v))
    return record_table(shown, {"name": "CQA", "spec": "Specification", "result": "Result", "status": "Verdict"},
                        "batch-cqas", "The product has no release specification on record.")


def stage_table(stages: pd.DataFrame, tz: str):
    total = stages["days"].sum() if len(stages) > 1 else None
    shown = stages.assign(when=stages["at"].map(lambda t: to_local(t, tz)),
                          took=stages["days"].map(lambda d: "–" if is_missing(d) else f"{d:.1f} days"))
    note = (html.P(f"{total:.1f} days from {stages['stage'].iloc[0]} to {stages['stage'].iloc[-1]}.",
                   id="batch-stage-total") if total is not None else None)
    return html.Div([record_table(shown, {"stage": "Stage", "when": "When", "took": "Since the stage before"},
                                  "batch-stages", "No stage recorded yet."), note])
