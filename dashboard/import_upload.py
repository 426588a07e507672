"""The import page's uploads: POST /import/upload?name=<file name> with the file's bytes as the body.

The page's script (assets/import_upload.js) sends the file with a progress bar; the bytes go to disk as
they arrive (queries/imports/uploads.py), never whole into memory or into a Dash callback, so the limit is
ATMP_IMPORT_MAX_MB alone. The guard (dashboard/auth.py) has already refused a request without a session
or from another origin; here the role is checked (a refusal is audited) and the answer is the upload's
SHA-256 and name, which the page hands to its callbacks: they open an upload only for the user who sent it."""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import Forbidden

from dashboard import context
from queries.imports import uploads
from queries.imports.importer import ImportError_
from queries.records import audit

UPLOAD_PATH = "/import/upload"
PAGE = "/import"


def steward(action: str, detail: str = ""):
    """The signed-in user if they may import; otherwise the refusal is audited and the request refused."""
    user = context.user()
    if user.role not in context.PAGE_ROLES[PAGE]:
        audit.append(context.warehouse(), user_id=user.user_id, action="import_refused", object_type="import",
                     object_id=action, reason=f"role {user.role} may not import" + (f" ({detail})" if detail else ""))
        raise Forbidden(f"role {user.role} may not import")
    return user


def init_upload_route(server: Flask) -> None:
    server.add_url_rule(UPLOAD_PATH, "import_upload", receive, methods=["POST"])


def receive():
    user = steward("upload")
    settings = context.settings()
    folder = uploads.import_dir(settings)
    if folder is None:
        return jsonify(error="Imports through this page are not configured (ATMP_IMPORT_DIR)."), 409
    try:
        upload = uploads.receive(folder, request.stream, request.args.get("name"), user.user_id,
                                 settings.import_max_mb * 1_000_000, request.content_length)
    except ImportError_ as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(sha256=upload.sha256, name=upload.path.name, size=upload.size)
