"""Validation reports in the warehouse: `atmp-hub validate` registers each report by its files' SHA-256, and
quality leadership signs it in the app: first "reviewed", then "approved" by another person. A signature names
the JSON record's hash and is refused when the file on disk no longer has the hash it was registered with.
Registration and each signature are audited in the same transaction (queries/records/audit.py)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import IntegrityError

from queries.engine.warehouse import Warehouse
from queries.records import audit, esignature

logger = logging.getLogger(__name__)

JSON_NAME, PDF_NAME = "validation-report.json", "validation-report.pdf"
SIGNING_ROLES = frozenset({"leadership"})
MEANINGS = {
    "reviewed": "Review: I have read this validation report, its checks, traceability and every deviation.",
    "approved": "Approval: on the evidence of this report, this installation may be used for GMP work.",
}
COMMENT_MAX = 2000


class Refused(PermissionError):
    """Not signed (or not registered); the message says why."""


@dataclass(frozen=True)
class Signed:
    report_id: str
    meaning: str
    user_id: str
    at: datetime
    json_sha256: str


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def register(wh: Warehouse, report_dir: Path, record: dict, *, by: str, now: datetime) -> dict:
    """Record a report `atmp-hub validate` has just written (its JSON and PDF in ``report_dir``)."""
    folder = report_dir.resolve()
    summary = record["summary"]
    row = {"report_id": record["report"]["id"],
           "created_at": pd.Timestamp(record["report"]["created"]).tz_convert(None).to_pydatetime(),
           "registered_at": now, "registered_by": by, "report_dir": str(folder),
           "json_sha256": sha256_of(folder / JSON_NAME), "pdf_sha256": sha256_of(folder / PDF_NAME),
           "verdict": summary["verdict"], "deviations": summary["deviations"],
           "requirements": summary["requirements"], "verified": summary["verified_by_test"],
           "verifiable": summary["verifiable_by_test"], "git_commit": record["code"].get("git_commit")}
    if not row["json_sha256"] or not row["pdf_sha256"]:
        raise Refused(f"{folder}: the report's {JSON_NAME} and {PDF_NAME} must both be there")
    with wh.transaction() as conn:
        wh.run(conn, "sql/validation_report_insert", row)
        audit.append(wh, user_id=by, action="validation_report_registered", object_type="validation_report",
                     object_id=row["report_id"], new_value=json.dumps(
                         {k: row[k] for k in ("json_sha256", "pdf_sha256", "verdict", "report_dir", "git_commit")}),
                     conn=conn)
    return row


def file_state(report: dict) -> str:
    """Whether the report's files on disk still have the hashes they were registered with."""
    folder = Path(report["report_dir"])
    problems = [name for name, want in ((JSON_NAME, report["json_sha256"]), (PDF_NAME, report["pdf_sha256"]))
                if sha256_of(folder / name) != want]
    return "files match their registered SHA-256" if not problems else \
        f"changed or missing since registration: {', '.join(problems)}"


def reports(wh: Warehouse) -> list[dict]:
    """Every registered report, newest first, with its signatures and the state of its files."""
    found = wh.query("sql/validation_reports_list").to_dict("records")
    signatures = wh.query("sql/validation_signatures_list").to_dict("records")
    for report in found:
        report["signatures"] = [s for s in signatures if s["report_id"] == report["report_id"]]
        report["files"] = file_state(report)
    return found


def report(wh: Warehouse, report_id) -> dict | None:
    """One registered report with its signatures (its files not read: the caller hashes what it uses)."""
    if not isinstance(report_id, str) or not report_id:
        return None
    found = wh.query("sql/validation_report_get", {"report_id": report_id}).to_dict("records")
    if not found:
        return None
    found[0]["signatures"] = wh.query("sql/validation_signatures_get", {"report_id": report_id}).to_dict("records")
    return found[0]


def sign(wh: Warehouse, *, user_id: str, role: str, report_id, meaning, comment, password, now: datetime,
         attempt_allowed: Callable[[], bool] | None = None) -> Signed:
    """Sign a registered report. Role, report, meaning, order and password are checked here; the signature
    and its audit entry commit together, and each meaning is signed once per report."""
    def refuse(message: str, why: str) -> Refused:
        esignature.audit_refusal(wh, user_id=user_id, action="validation_report_signature_refused",
                                 object_type="validation_report", object_id=report_id, reason=why)
        return Refused(message)

    if role not in SIGNING_ROLES:
        raise refuse("Validation reports are signed by quality leadership.", f"role {role} may not sign")
    found = report(wh, report_id)
    if found is None:
        raise refuse("Choose a registered report.", "not a registered report")
    if meaning not in MEANINGS:
        raise Refused("Choose what the signature means: reviewed or approved.")
    note = comment.strip() if isinstance(comment, str) else ""
    if not note:
        raise Refused("A comment is required: what was reviewed, and how the deviations are dispositioned.")
    if len(note) > COMMENT_MAX:
        raise Refused(f"The comment is limited to {COMMENT_MAX} characters.")
    if sha256_of(Path(found["report_dir"]) / JSON_NAME) != found["json_sha256"]:
        raise refuse("The report's JSON record no longer has the SHA-256 it was registered with: it cannot be "
                     "signed (run atmp-hub validate again).", "JSON record changed or missing")
    done = {s["meaning"]: s["signed_by"] for s in found["signatures"]}
    if meaning in done:
        raise Refused(f"This report is already {meaning}, by {done[meaning]}.")
    if meaning == "approved":
        if "reviewed" not in done:
            raise Refused("Approval comes after review: this report has not been reviewed yet.")
        if done["reviewed"] == user_id:
            raise refuse("The approver must be another person than the reviewer.", "approver reviewed it")
    try:
        esignature.check(wh, user_id=user_id, password=password, object_type="validation_report",
                         object_id=report_id, meaning=MEANINGS[meaning], attempt_allowed=attempt_allowed)
    except esignature.SignatureFailed as failed:
        raise Refused(str(failed)) from None
    row = {"report_id": report_id, "meaning": meaning, "signed_by": user_id, "signed_at": now,
           "json_sha256": found["json_sha256"], "comment": note}
    try:
        with wh.transaction() as conn:
            wh.run(conn, "sql/validation_signature_insert", row)
            audit.append(wh, user_id=user_id, action=f"validation_report_{meaning}", object_type="validation_report",
                         object_id=report_id, reason=note, meaning=MEANINGS[meaning], conn=conn,
                         new_value=json.dumps({"json_sha256": found["json_sha256"], "role": role}))
    except IntegrityError:  # signed a moment ago by someone else
        raise Refused(f"This report is already {meaning}.") from None
    logger.info("validation report %s %s by %s", report_id, meaning, user_id)
    return Signed(report_id, meaning, user_id, now, found["json_sha256"])
