"""A watched drop folder, the way eQMS and EM integrations commonly deliver files.

    <drop>/<table>/                  files in the hub's own columns           e.g. deviations/
    <drop>/<table>@<profile>/        files mapped by a shipped profile        e.g. deviations@generic_eqms_deviations/
    <drop>/processing/<inbox>/       a file being imported (claimed by an atomic rename)
    <drop>/done/<date>/              imported files, each with <name>.report.txt beside it
    <drop>/rejected/<date>/          refused files, each with the report naming every problem

A file is taken once it has not changed for ``settle_s`` seconds (a writer still copying it is left
alone; names starting with '.' or ending in .tmp/.partial are never taken). It is imported all or
nothing with its folder's profile, as the user ``drop-folder`` in the audit trail. The import's audit
entry, committed with its rows, names the file's SHA-256: a file whose hash was imported into the same
table before is not imported again (it goes to done/ with a report saying when it was). A process killed
mid-import leaves the file in processing/; the next run takes it from there: its transaction either
committed (then the hash is found) or left nothing."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from queries.engine.warehouse import Warehouse
from queries.imports import importer, plan, profiles
from queries.imports.importer import ImportError_
from queries.notifications import outbox
from queries.records import audit

logger = logging.getLogger(__name__)

AUDIT_USER = "drop-folder"
SKIPPED_SUFFIXES = (".tmp", ".partial", ".report.txt")
SPECIAL = ("processing", "done", "rejected")


@dataclass(frozen=True)
class Outcome:
    file: str           # the file's name as dropped
    table: str
    verdict: str        # imported | already imported | rejected
    moved_to: Path
    summary: str


def inboxes(drop: Path) -> dict[Path, tuple[str, str | None]]:
    """{folder: (table, profile)} for each inbox; a folder whose name is no table (or no shipped profile)
    is logged once per scan and left alone."""
    found = {}
    for folder in sorted(p for p in drop.iterdir() if p.is_dir() and p.name not in SPECIAL):
        table, _, profile = folder.name.partition("@")
        if table not in importer.IMPORTABLE or (profile and profile not in profiles.shipped_profiles()):
            logger.warning("drop folder %s: not <table> or <table>@<shipped profile>; ignored", folder)
            continue
        found[folder] = (table, profile or None)
    return found


def ready_files(folder: Path, settle_s: float, now: float | None = None) -> list[Path]:
    now = time.time() if now is None else now
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not p.name.endswith(SKIPPED_SUFFIXES)
                  and now - p.stat().st_mtime >= settle_s)


def scan(wh: Warehouse, drop: Path, *, settle_s: float = 5.0) -> list[Outcome]:
    """Take every settled file of every inbox (and what a killed run left in processing/) and import it.
    Settled means unchanged for `settle_s` before the scan began: a file a writer touched just before it
    is left alone however long the imports ahead of it take."""
    began = time.time()
    drop = Path(drop)
    processing = drop / "processing"
    processing.mkdir(parents=True, exist_ok=True)
    boxes = inboxes(drop)
    outcomes = []
    for folder, (table, profile) in boxes.items():  # first what a killed run left half done
        for left in sorted(p for p in (processing / folder.name).glob("*") if p.is_file()):
            outcomes.append(_import(wh, drop, left, table, profile))
    for folder, (table, profile) in boxes.items():
        for path in ready_files(folder, settle_s, began):
            claimed = processing / folder.name / path.name
            claimed.parent.mkdir(exist_ok=True)
            try:
                os.replace(path, claimed)  # atomic: two watchers never take one file
            except FileNotFoundError:
                continue
            outcomes.append(_import(wh, drop, claimed, table, profile))
    return outcomes


def _import(wh: Warehouse, drop: Path, claimed: Path, table: str, profile: str | None) -> Outcome:
    name = claimed.name
    sha = plan.sha256_of(claimed)
    day = datetime.now(UTC).date().isoformat()
    earlier = imported_before(wh, table, sha)
    if earlier is not None:
        summary = (f"{name}: already imported into {table} on {earlier:%Y-%m-%d %H:%M} UTC (same SHA-256 {sha}); "
                   "not imported again")
        return _finish(claimed, drop / "done" / day, name, table, "already imported", summary)
    try:
        # No person is there to say why a record changed: the reason recorded is the source system's
        # export, which made the change (each changed record is audited with its old and new values).
        result = plan.import_file(wh, table, claimed, audit_as=AUDIT_USER, profile=profile,
                                  reason=f"changed in the source system; delivered to the drop folder as {name}")
    except ImportError_ as exc:
        summary = f"{name}: refused, nothing written ({len(exc.problems)} problem(s)):\n" + "\n".join(exc.problems)
        # The audit entry and the messages the rules call for commit together, before the file moves: a
        # process killed in between refuses the file again on its next scan, and the same file (hash)
        # queues no second message (queries/notifications/outbox.py).
        with wh.transaction() as conn:
            audit.append(wh, user_id=AUDIT_USER, action="import_rejected", object_type=table, object_id=name,
                         reason=f"{exc.problems[0][:300]}" + (f" and {len(exc.problems) - 1} more"
                                                               if len(exc.problems) > 1 else ""),
                         new_value=f"sha256 {sha}", conn=conn)
            outbox.queue_import_rejected(wh, conn, file_name=name, table=table, sha=sha, problems=exc.problems,
                                         at=datetime.now(UTC).replace(tzinfo=None),
                                         report=str(drop / "rejected" / day / f"{name}.report.txt"))
        logger.error("drop folder: %s rejected: %s", name, exc.problems[0])
        return _finish(claimed, drop / "rejected" / day, name, table, "rejected", summary)
    lines = [f"{name}: imported into {table}: {plan.audit_text(result)}", *result.warnings]
    lines += [f"changed: row {c.row}, {c.record}, {c.field}: {c.stored!r} -> {c.new!r}" for c in result.changes]
    return _finish(claimed, drop / "done" / day, name, table, "imported", "\n".join(lines))


def _finish(claimed: Path, folder: Path, name: str, table: str, verdict: str, summary: str) -> Outcome:
    """Move the file out of processing/ with its report beside it (the report first: a file in done/ or
    rejected/ always has one). A name already there gets a number."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    stem, suffix = os.path.splitext(name)
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{stem} ({n}){suffix}"
    report = target.with_name(target.name + ".report.txt")
    report.write_text(summary + "\n", encoding="utf-8")
    os.replace(claimed, target)
    logger.info("drop folder: %s -> %s (%s)", name, target, verdict)
    return Outcome(name, table, verdict, target, summary.splitlines()[0])


def imported_before(wh: Warehouse, table: str, sha: str) -> datetime | None:
    """When a file with this SHA-256 was imported into the table (its audit entry), or None."""
    found = wh.query("sql/imports/imported_hash", {"table": table, "pattern": f"%sha256 {sha}%"})
    return None if found.empty or found.iat[0, 0] is None else found.iat[0, 0]


def start_watching(wh: Warehouse, drop: Path, *, every_s: float = 10.0, settle_s: float = 5.0) -> threading.Event:
    """Scan the drop folder every ``every_s`` seconds on a daemon thread until the returned event is set (the
    app's in-process watcher, ATMP_IMPORT_DROP_DIR). A failed scan is logged and the next one runs; claims
    are atomic renames, so several app processes may watch one folder."""
    stop = threading.Event()
    Path(drop).mkdir(parents=True, exist_ok=True)

    def loop() -> None:
        while not stop.is_set():
            try:
                for outcome in scan(wh, Path(drop), settle_s=settle_s):
                    logger.info("drop folder: %s %s", outcome.verdict, outcome.summary)
            except Exception:  # a full disk, the warehouse away: logged; the files wait for the next scan
                logger.exception("drop folder %s: scan failed", drop)
            stop.wait(every_s)

    threading.Thread(target=loop, name="drop-folder", daemon=True).start()
    return stop
