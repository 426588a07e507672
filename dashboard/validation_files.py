"""The validation report's files as the app serves them: GET /validation/report/<report_id>/<pdf|json>.

For the roles of the /validation page only (a refusal is audited); the file is served only while it still has
the SHA-256 it was registered with (409 otherwise: the copy on disk is not the registered report), and each
download is audited with that hash, as every export is."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, send_file
from werkzeug.exceptions import Conflict, Forbidden, NotFound

from dashboard import context
from queries.records import audit
from queries.records import validation_reports as vr

PAGE = "/validation"
FILES = {"pdf": (vr.PDF_NAME, "pdf_sha256", "application/pdf"),
         "json": (vr.JSON_NAME, "json_sha256", "application/json")}


def file_url(report_id: str, kind: str) -> str:
    return f"{PAGE}/report/{report_id}/{kind}"


def init_report_route(server: Flask) -> None:
    server.add_url_rule(f"{PAGE}/report/<report_id>/<kind>", "validation_report_file", serve)


def serve(report_id: str, kind: str):
    user = context.user()
    wh = context.warehouse()
    if user.role not in context.PAGE_ROLES[PAGE]:
        audit.append(wh, user_id=user.user_id, action="validation_report_download_refused",
                     object_type="validation_report", object_id=report_id[:100], reason=f"role {user.role}")
        raise Forbidden(f"role {user.role} may not read validation reports")
    if kind not in FILES:
        raise NotFound("a report has a pdf and a json file")
    report = vr.report(wh, report_id)
    if report is None:
        raise NotFound("no such validation report")
    name, hash_field, mimetype = FILES[kind]
    path = Path(report["report_dir"]) / name
    if vr.sha256_of(path) != report[hash_field]:
        raise Conflict(f"{name} of report {report_id} no longer has the SHA-256 it was registered with")
    audit.append(wh, user_id=user.user_id, action="validation_report_downloaded", object_type="validation_report",
                 object_id=report_id, new_value=json.dumps({"file": name, "sha256": report[hash_field]}))
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=f"validation-{report_id}.{kind}")
