"""Import (/import, data stewards: quality leadership and administrators for the network; a site manager
for the own site's rows): upload an export, see the dry run (rows to insert, update, leave alone; every
problem by file, row and field; warnings; each change), then import it all or nothing.

The browser holds only the upload's hash and name. Every callback re-reads the user from the session,
opens the upload only for the user who sent it, and plans the import again with the user's own site
scope: the dry run a browser shows is never what the commit trusts."""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import context, ids
from dashboard.components.tables import table
from dashboard.exports.files import neutralise
from dashboard.import_upload import PAGE, UPLOAD_PATH, steward
from queries.imports import em_history, profiles, uploads
from queries.imports import plan as import_plan
from queries.imports.importer import IMPORTABLE, ImportError_
from queries.records import audit
from queries.records.administration import REASON_MAX

SHOWN = 200  # problems and changes listed on the page; the report has them all
PREVIEW = 5  # rows shown as they would be stored
OWN_FORMAT = "own"  # the profile choice "the hub's own column names"
PROGRESS_POLL_MS = 500  # how often the page reads the progress of a running dry run or import
dash.register_page(__name__, path=PAGE, name="Import", nav=True, order=80, title="Import · ATMP Quality Hub")

# "<file> row 3, field 'x': why" / "<file> row 3, column 'X': why" / "<file>: why"
PROBLEM = re.compile(r"^(?P<file>.+?)(?: row (?P<row>\d+), (?P<field>(?:fields?|column) .+?))?: (?P<reason>.*)$",
                     re.DOTALL)


def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    user = context.user()
    folder = uploads.import_dir(context.settings())
    scope_note = (f"As the manager of {user.site_id} you import the rows of {user.site_id} alone (into tables "
                  f"that have a site) and the readings of its sensors." if user.role == "site_manager" else
                  "You import for the whole network.")
    closed = None if folder is not None else dbc.Alert(
        "Imports through this page are not configured: set ATMP_IMPORT_DIR (the folder keeping each uploaded "
        "file under its SHA-256).", color="warning", id="import-closed")
    return html.Div([
        html.H1("Import data", className="h3"),
        html.P(["Upload an export (CSV in UTF-8, XLSX or Parquet, up to "
                f"{context.settings().import_max_mb} MB). Nothing is written until you import: first the dry run "
                "shows what would be inserted, updated and left alone, and every problem by file, row and field. "
                "A row is matched to a stored record by its record id, so importing the same export twice "
                "changes nothing. ", scope_note], className="text-body-secondary", id="import-intro"),
        closed,
        dbc.Row([
            dbc.Col([dbc.Label("What the file holds", html_for=ids.IMP_TABLE),
                     dcc.Dropdown(id=ids.IMP_TABLE, options=table_options(user), value="deviations",
                                  clearable=False)], md=4),
            dbc.Col([dbc.Label("Its format (mapping profile)", html_for=ids.IMP_PROFILE),
                     dcc.Dropdown(id=ids.IMP_PROFILE, options=profile_options("deviations"), value=OWN_FORMAT,
                                  clearable=False)], md=5),
        ], className="g-3 mb-3"),
        # The upload's own <input> has no label of its own: a <label> around it names it. The file never
        # reaches dcc.Upload's callback: assets/import_upload.js takes it first (chosen or dropped) and sends
        # it to the upload route as it reads it, with a progress bar.
        html.Label([html.Span("File to import", className="form-label d-block"),
                    dcc.Upload(id=ids.IMP_UPLOAD, multiple=False, accept=",".join(uploads.SUFFIXES),
                               disabled=folder is None, className="import-drop", children=html.Div(
                                   ["Drop the file here or ", html.Span("choose it", className="link-primary")]))],
                   className="d-block mb-2", **{"data-url": UPLOAD_PATH}),
        html.Progress(id=ids.IMP_SENDING, max="100", value="0", hidden=True, className="w-100",
                      **{"aria-label": "How much of the file has been sent"}),
        html.Div(id=ids.IMP_SEND_STATUS, role="status", className="small mb-2"),
        dcc.Store(id=ids.IMP_FILE),
        html.Div(id=ids.IMP_RECEIVED, role="status", className="mb-2"),
        html.Div(id=ids.IMP_PROGRESS, hidden=True, role="status", className="mb-2"),
        dcc.Interval(id=ids.IMP_POLL, interval=PROGRESS_POLL_MS, disabled=True),
        dcc.Loading(html.Div(id=ids.IMP_DRY_RUN, className="mb-3"), type="dot"),
        html.Div([dbc.Label("Reason for the change (required when the file changes stored records; kept with "
                            "each changed record's old and new values in the audit trail)", html_for=ids.IMP_REASON),
                  dbc.Input(id=ids.IMP_REASON, type="text", maxLength=REASON_MAX,
                            placeholder="e.g. monthly eQMS refresh: CAPA closures and effectiveness checks")],
                 className="mb-2"),
        html.Div([dbc.Button("Import", id=ids.IMP_COMMIT, color="primary", disabled=True, n_clicks=0),
                  dbc.Button("Download the full report (CSV)", id=ids.IMP_REPORT, color="secondary", n_clicks=0,
                             disabled=True),
                  dcc.Download(id=ids.IMP_REPORT_DOWNLOAD)], className="d-flex gap-2 mb-3"),
        dcc.Loading(html.Div(id=ids.IMP_RESULT, role="status"), type="dot"),
    ])


def importable_for(user) -> list[str]:
    """The tables this user may import into: every importable one for the network's stewards; for a site
    manager those with a site (the rows are then checked one by one)."""
    if user.role != "site_manager":
        return sorted(import_plan.TARGETS)
    wh = context.warehouse()
    with wh.engine.connect() as conn:
        columns = wh.bulk_columns(conn)  # the schema's tables and columns, read once per process
    # readings have no site column: each is checked against its sensor's site
    return sorted({em_history.TABLE} | {t for t in IMPORTABLE if t != "sites" and "site_id" in columns.get(t, ())})


def table_options(user) -> list[dict]:
    return [{"label": name.replace("_", " ").capitalize(), "value": name} for name in importable_for(user)]


def profile_options(table_name) -> list[dict]:
    if table_name == "survey_responses":  # read by the survey rules (queries/imports/survey_import.py)
        return [{"label": "A survey tool's export (anonymous: a name or e-mail refuses the file)",
                 "value": OWN_FORMAT}]
    options = [{"label": "The hub's own column names (docs/data-model.md)", "value": OWN_FORMAT}]
    for name, path in profiles.shipped_profiles().items():
        profile = profiles.load_profile(str(path))
        if profile.target == table_name:
            options.append({"label": profile.name, "value": name})
    return options


def chosen(user, table_name, profile_name) -> tuple[str, str | None]:
    """The table and profile as the server allows them: a table this user may import, a shipped profile
    (never a path the browser names) for that table."""
    if not isinstance(table_name, str) or table_name not in importable_for(user):
        raise ImportError_([f"choose what the file holds (one of {', '.join(importable_for(user))})"])
    if profile_name in (None, OWN_FORMAT):
        return table_name, None
    if not isinstance(profile_name, str) or profile_name not in {o["value"] for o in profile_options(table_name)}:
        raise ImportError_(["choose a mapping profile offered for this table"])
    return table_name, profile_name


def own_upload(user, file) -> uploads.Upload | None:
    """The upload the browser names, if this user uploaded it (never anyone else's)."""
    folder = uploads.import_dir(context.settings())
    if folder is None or not isinstance(file, dict):
        return None
    return uploads.find(folder, file.get("sha256"), file.get("name"), user.user_id)


def planned(user, file, table_name, profile_name, *, read: bool = True) -> import_plan.ImportPlan:
    """The plan for the user's own upload, with the user's site scope (``read``: its rows checked and
    counted, as a dry run, noting its progress for the page; else only prepared for commit, which checks
    them as it writes); ImportError_ if it cannot be made."""
    upload = own_upload(user, file)
    if upload is None:
        raise ImportError_(["upload the file first"])
    table_name, profile_name = chosen(user, table_name, profile_name)
    site = user.site_id if user.role == "site_manager" else None
    if not read:
        return import_plan.prepare(context.warehouse(), table_name, upload.path, profile=profile_name, site=site)
    with noted_progress(user, upload.path, "Checking") as progress:
        return import_plan.plan_import(context.warehouse(), table_name, upload.path, profile=profile_name,
                                       site=site, progress=progress)


@contextmanager
def noted_progress(user, uploaded: Path, step: str):
    """A progress callback that notes rows read for the page's progress bar; the note is removed after."""
    path = uploads.progress_path(uploaded, user.user_id)
    try:
        yield lambda rows, total: uploads.write_progress(path, step, rows, total)
    finally:
        path.unlink(missing_ok=True)


def problems_frame(problems: list[str]) -> pd.DataFrame:
    rows = []
    for problem in problems:
        match = PROBLEM.match(problem)
        rows.append({"file": match["file"], "row": match["row"] or "", "field": (match["field"] or "").strip(),
                     "reason": match["reason"]} if match else {"file": "", "row": "", "field": "", "reason": problem})
    return pd.DataFrame(rows, columns=["file", "row", "field", "reason"])


@callback(
    Output(ids.IMP_PROFILE, "options"),
    Output(ids.IMP_PROFILE, "value"),
    Input(ids.IMP_TABLE, "value"),
)
def profiles_for_table(table_name):
    user = steward("choose table")
    if not isinstance(table_name, str) or table_name not in importable_for(user):
        return profile_options(""), OWN_FORMAT
    return profile_options(table_name), OWN_FORMAT


@callback(
    Output(ids.IMP_RECEIVED, "children"),
    Input(ids.IMP_FILE, "data"),
    prevent_initial_call=True,
)
def received(file):
    """What the server holds of the file the page sent (the upload route gave the page its hash): for its
    own uploader only."""
    user = steward("upload")
    upload = own_upload(user, file)
    if upload is None:
        return None
    return html.P([html.Strong(upload.path.name), f" received: {upload.size:,} bytes, SHA-256 ",
                   html.Code(upload.sha256, id="import-sha256")], className="small")


@callback(
    Output(ids.IMP_DRY_RUN, "children"),
    Output(ids.IMP_COMMIT, "disabled"),
    Output(ids.IMP_COMMIT, "children"),
    Output(ids.IMP_REPORT, "disabled"),
    Output(ids.IMP_RESULT, "children"),
    Input(ids.IMP_FILE, "data"),
    Input(ids.IMP_TABLE, "value"),
    Input(ids.IMP_PROFILE, "value"),
    Input(ids.IMP_COMMIT, "n_clicks"),
    State(ids.IMP_REASON, "value"),
    running=[(Output(ids.IMP_POLL, "disabled"), False, True), (Output(ids.IMP_PROGRESS, "hidden"), False, True)],
)
def dry_run_or_import(file, table_name, profile_name, n_clicks, reason):
    """A new file or choice: the dry run. The Import button: plan again on the server and write it."""
    user = steward("dry run")
    if f"{ids.IMP_COMMIT}.n_clicks" in dash.ctx.triggered_prop_ids and n_clicks:
        return html.Div(), True, "Import", True, imported(user, file, table_name, profile_name, reason)
    if not file:
        return html.P("No file yet.", className="text-body-secondary"), True, "Import", True, None
    try:
        plan = planned(user, file, table_name, profile_name)
    except ImportError_ as exc:
        return refused_view(exc.problems), True, "Import", False, None
    c = plan.counts
    nothing = c["insert"] == 0 and c["update"] == 0
    return plan_view(plan), nothing, f"Import: {c['insert']:,} new, {c['update']:,} updated", False, None


@callback(
    Output(ids.IMP_PROGRESS, "children"),
    Input(ids.IMP_POLL, "n_intervals"),
    State(ids.IMP_FILE, "data"),
    prevent_initial_call=True,
)
def show_progress(_n_intervals, file):
    """How far the running dry run or import of the user's own upload has read: a bar against the file's
    row count where it is known, else the rows so far."""
    user = steward("progress")
    upload = own_upload(user, file)
    note = uploads.read_progress(uploads.progress_path(upload.path, user.user_id)) \
        if upload is not None else None
    if not note:
        return html.P("Reading the file...", className="small mb-0")
    rows, total = int(note.get("rows", 0)), note.get("total")
    step = "Importing" if note.get("step") == "Importing" else "Checking"
    if isinstance(total, int) and total > 0:
        percent = min(100, round(100 * rows / total))
        text = f"{step}: {rows:,} of about {total:,} rows ({percent} %)"
        return [html.P(text, className="small mb-1", id="import-progress-text"),
                html.Progress(value=str(percent), max="100", className="w-100", **{"aria-label": text})]
    return html.P(f"{step}: {rows:,} rows so far", className="small mb-0", id="import-progress-text")


def refused_view(problems: list[str]) -> html.Div:
    shown = problems_frame(problems[:SHOWN])
    more = f" The first {SHOWN} are listed; the report has all {len(problems):,}." if len(problems) > SHOWN else ""
    return html.Div([
        dbc.Alert([html.Strong(f"Dry run: the file would be refused ({len(problems):,} "
                               f"problem{'s' if len(problems) != 1 else ''}). "),
                   "Nothing can be imported until every problem is fixed in the source and the file uploaded "
                   "again." + more], color="danger", id="import-refused"),
        table(shown, {"row": "Row", "field": "Field", "reason": "Problem", "file": "File"}, "import-errors",
              "", compact=True),
    ])


def plan_view(plan: import_plan.ImportPlan) -> html.Div:
    c = plan.counts
    changes = pd.DataFrame([{"row": ch.row, "record": ch.record, "field": ch.field,
                             "stored": "" if ch.stored is None else str(ch.stored),
                             "new": "" if ch.new is None else str(ch.new)} for ch in plan.changes[:SHOWN]],
                           columns=["row", "record", "field", "stored", "new"])
    more = (f" (the first {SHOWN} of {len(plan.changes):,} changes; the report has all)"
            if len(plan.changes) > SHOWN else "")
    return html.Div([
        dbc.Alert([html.Strong("Dry run: nothing written. "),
                   f"{plan.file_name} into {plan.table}: ",
                   html.Span(f"{c['insert']:,} to insert", id="import-count-insert"), ", ",
                   html.Span(f"{c['update']:,} to update", id="import-count-update"), ", ",
                   html.Span(f"{c['unchanged']:,} unchanged", id="import-count-unchanged"), "."],
                  color="info", id="import-plan"),
        html.Div([html.H2(f"The first {min(PREVIEW, len(plan.frame))} rows as they would be stored (times in UTC)", className="h6"),
                  html.Div(table(preview(plan.frame), {c: c for c in plan.frame.columns}, "import-preview-rows",
                                 "", compact=True), className="import-preview", tabIndex="0",
                           role="region", **{"aria-label": "Rows as they would be stored"})]),
        html.Div([html.H2("Warnings", className="h6"),
                  html.Ul([html.Li(w) for w in plan.warnings[:SHOWN]], id="import-warnings")]
                 if plan.warnings else None),
        html.Div([html.H2("Changes to stored records" + more, className="h6"),
                  table(changes, {"row": "Row", "record": "Record", "field": "Field", "stored": "Stored",
                                  "new": "From the file"}, "import-changes", "", compact=True)]
                 if plan.changes else None),
    ])


def imported(user, file, table_name, profile_name, reason):
    """Plan the user's upload again and write it all or nothing; what happened, as an alert."""
    try:
        if isinstance(reason, str) and len(reason) > REASON_MAX:
            raise ImportError_([f"the reason is longer than {REASON_MAX} characters; nothing was written"])
        plan = planned(user, file, table_name, profile_name, read=False)
        with noted_progress(user, plan.source, "Importing") as progress:
            import_plan.commit(context.warehouse(), plan, audit_as=user.user_id, progress=progress,
                               reason=reason if isinstance(reason, str) else None)
    except ImportError_ as exc:
        if user.role == "site_manager" and any(import_plan.OUTSIDE_SITE in p for p in exc.problems):
            audit.append(context.warehouse(), user_id=user.user_id, action="import_refused",
                         object_type=str(table_name)[:40], object_id=_file_name(file),
                         reason=f"rows or a table outside the site {user.site_id}")
        return dbc.Alert(["Not imported; nothing was written. ", html.Br(), *_lines(exc.problems[:20])],
                         color="danger", id="import-not-done")
    c = plan.counts
    return dbc.Alert([html.Strong("Imported. "),
                      f"{plan.file_name} into {plan.table}: {c['insert']:,} inserted, {c['update']:,} updated, "
                      f"{c['unchanged']:,} unchanged. The audit trail records it with the file's SHA-256 ",
                      html.Code(plan.sha256), ". ", dcc.Link("Open the network overview", href="/")],
                     color="success", id="import-done")


def _file_name(file) -> str | None:
    return str(file.get("name", ""))[:200] if isinstance(file, dict) else None


def _lines(problems: list[str]) -> list:
    out = []
    for problem in problems:
        out += [problem, html.Br()]
    return out


def preview(frame: pd.DataFrame) -> pd.DataFrame:
    """The first rows as text, in the warehouse's terms (UTC times, the hub's codes): what the profile made
    of the export, for a person to check before importing."""
    shown = frame.head(PREVIEW).astype(object)
    return shown.map(lambda v: "" if import_plan.missing(v) else str(import_plan.plain(v)))


@callback(
    Output(ids.IMP_REPORT_DOWNLOAD, "data"),
    Input(ids.IMP_REPORT, "n_clicks"),
    State(ids.IMP_FILE, "data"),
    State(ids.IMP_TABLE, "value"),
    State(ids.IMP_PROFILE, "value"),
    prevent_initial_call=True,
)
def report(n_clicks, file, table_name, profile_name):
    """Every problem (or, for a file that would import, every change and warning) as CSV."""
    user = steward("report")
    if not n_clicks:
        return no_update
    try:
        plan = planned(user, file, table_name, profile_name)
    except ImportError_ as exc:
        frame = problems_frame(exc.problems).assign(kind="error")
        name = _file_name(file) or "upload"
    else:
        frame = pd.concat([
            pd.DataFrame([{"kind": "change", "file": plan.file_name, "row": ch.row, "field": ch.field,
                           "reason": f"{ch.record}: {ch.stored!r} -> {ch.new!r}"} for ch in plan.changes]),
            problems_frame(plan.warnings).assign(kind="warning")], ignore_index=True)
        name = plan.file_name
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS := ["kind", "file", "row", "field", "reason"])
    for row in frame.reindex(columns=COLUMNS).fillna("").itertuples(index=False, name=None):
        writer.writerow([neutralise(str(v)) for v in row])  # the file's own text, never a formula
    return dcc.send_string(out.getvalue(), f"{str(name).rsplit('.', 1)[0]}-import-report.csv")
