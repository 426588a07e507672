"""What an import would do, worked out before anything is written, and the all-or-nothing write of it.

A row is identified by its table's PRIMARY KEY (the source system's record id: deviation_id, capa_id...).
A row whose key the warehouse does not hold is inserted; one it holds is compared field by field with the
stored record and updated when a field the file carries differs (a later export closing a CAPA), or left
alone when none does: importing the same export twice changes nothing. The plan lists every change
(row, record, field, stored value, file value) so the dry run shows it before it happens.

A site manager (``site`` set) imports the rows of their own site only, into tables that have a site: a
row of another site, or an update of another site's record, refuses the whole file.

A file is read RECORD_CHUNK_ROWS rows at a time (readings: em_history.CHUNK_ROWS), so memory does not grow
with it: a dry run checks every chunk; an import reads the file again and checks and writes chunk after
chunk in one transaction that any problem rolls back. A survey tool's export is read whole (its anonymity
rules judge whole groups)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import and_, bindparam, select, tuple_, update
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table

from queries.engine import data_version
from queries.engine.warehouse import Warehouse, WarehouseUnavailable
from queries.imports import em_history, importer, record_rules, survey_import
from queries.imports.importer import DATABASE_DEFAULT, ImportError_
from queries.records import audit

logger = logging.getLogger(__name__)
HASH_BLOCK = 1 << 20
TARGETS = importer.IMPORTABLE | {em_history.TABLE}  # readings: EM history, by its own rules (em_history.py)
STORED_CHUNK = 10_000  # keys per query when reading the stored records a file's rows match
RECORD_CHUNK_ROWS = 50_000  # rows of a record file read, checked and written at a time
PREVIEW_ROWS = 20  # rows the dry run shows as they would be stored
MAX_PROBLEMS = em_history.MAX_PROBLEMS  # a file this wrong is the wrong file: the pass stops reading
Progress = Callable[[int, "int | None"], None]  # (rows read so far, rows in the file if known)
OUTSIDE_SITE = "a site manager imports"  # in every refusal of rows or a table outside the manager's site


@dataclass(frozen=True)
class Change:
    """One field of a stored record the import would change."""
    row: int          # 1-based data row of the file
    record: str       # the record's key as shown ('CAPA-0012', or "('CHI', 'SOP-7', '2026-01-01')")
    field: str
    stored: object
    new: object


@dataclass
class ImportPlan:
    table: str
    file_name: str
    sha256: str
    profile: str | None
    frame: pd.DataFrame                  # the first PREVIEW_ROWS rows as they would be stored
    key: tuple[str, ...]                 # the PRIMARY KEY the rows are matched on (empty: insert all)
    source: Path                         # the file: a dry run reads it, and the import reads it again
    site: str | None = None              # a site manager's own site: rows of other sites are refused
    counted: dict[str, int] = field(default_factory=lambda: {"insert": 0, "update": 0, "unchanged": 0})
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.counted)

    def summary(self) -> str:
        c = self.counts
        return f"{c['insert']:,} to insert, {c['update']:,} to update, {c['unchanged']:,} unchanged"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare(wh: Warehouse, table: str, path: str | Path, *, profile: str | None = None,
            site: str | None = None) -> ImportPlan:
    """The plan of a file before any row is read: its table, key and SHA-256 (commit reads the rows)."""
    path = Path(path)
    if table not in TARGETS:
        raise ImportError_([f"{path.name}: table {table!r} cannot be imported "
                            f"(importable: {', '.join(sorted(TARGETS))})"])
    if not path.is_file():
        raise ImportError_([f"{path}: no such file"])
    key = ("msg_id",) if table == em_history.TABLE else next(
        (k for kind, k in importer.table_constraints(wh, table) if kind == "PRIMARY KEY"), ())
    return ImportPlan(table=table, file_name=path.name, sha256=sha256_of(path), profile=profile,
                      frame=pd.DataFrame(), key=key, source=path, site=site)


def plan_import(wh: Warehouse, table: str, path: str | Path, *, profile: str | None = None,
                site: str | None = None, progress: Progress | None = None) -> ImportPlan:
    """Everything an import checks, and what it would insert, update and leave alone; writes nothing.
    Raises ImportError_ listing every problem (file, row, field, why). ``progress(rows read, rows in the
    file or None)`` is called after each chunk."""
    plan = prepare(wh, table, path, profile=profile, site=site)
    _read(wh, plan, conn=None, progress=progress)
    return plan


def _read(wh: Warehouse, plan: ImportPlan, conn, progress: Progress | None = None) -> None:
    """One pass over the file: every row checked and sorted into insert / update / unchanged, and with
    ``conn`` written in its transaction as it goes. Any problem raises ImportError_ at the end of the pass
    (a writing pass's transaction is then rolled back)."""
    if plan.table == em_history.TABLE:
        done = em_history.run(wh, plan.source, profile=plan.profile, site=plan.site, outside_site=OUTSIDE_SITE,
                              conn=conn, progress=_counted(plan, progress))
        plan.counted = {"insert": done.insert, "update": 0, "unchanged": done.unchanged}
        plan.frame, plan.warnings = done.preview, done.warnings
        return
    _read_records(wh, plan, conn, _counted(plan, progress))


def _counted(plan: ImportPlan, progress: Progress | None):
    """``progress`` told the file's row count too (read once, before the first chunk): rows read -> call."""
    if progress is None:
        return None
    total = importer.count_rows(plan.source)
    return lambda rows: progress(rows, total)


def _record_chunks(wh: Warehouse, plan: ImportPlan) -> Iterator[pd.DataFrame]:
    """The file's cells, RECORD_CHUNK_ROWS rows at a time; a survey tool's export whole, already checked by
    its own rules (the anonymity checks judge whole groups)."""
    if plan.table != survey_import.TABLE:
        yield from importer.read_chunks(plan.source, RECORD_CHUNK_ROWS)
        return
    if plan.profile is not None:
        raise ImportError_([f"{plan.file_name}: survey exports are read by their own rules, not a profile"])
    yield survey_import.validate_survey(importer.open_file(plan.source), plan.file_name,
                                        known_sites=set(wh.query("sql/site_ids")["site_id"]))


def _read_records(wh: Warehouse, plan: ImportPlan, conn, progress=None) -> None:
    """_read for the record tables: each chunk is read into the table's types, checked against the record
    rules and the user's site, matched with the stored records by key, and (with conn) written. Memory
    holds a chunk, the keys read so far (to find a key the file repeats) and the list of changes."""
    table, name, site = plan.table, plan.file_name, plan.site
    columns = importer.table_columns(wh, table)
    if site is not None and (table == "sites" or "site_id" not in set(columns["column_name"])):
        raise ImportError_([f"{name}: a site manager imports rows of their own site only; {table} has "
                            "no site (network data is imported by quality leadership or an administrator)"])
    keys = importer.table_constraints(wh, table)
    declared = {r.column_name: r for r in columns.itertuples()}
    unique = [k for kind, k in keys if kind != "PRIMARY KEY"]
    seen: dict[tuple[str, ...], dict] = {}
    notes = importer.WarningNotes(wh, table, name)
    problems: list[str] = []
    plan.counted, plan.changes = {"insert": 0, "update": 0, "unchanged": 0}, []
    first_row = 1
    for raw in _record_chunks(wh, plan):
        rows = len(raw)
        if table == survey_import.TABLE:
            frame, found = raw, []
        else:
            try:
                if plan.profile is not None:
                    raw = importer.mapped(wh, table, raw, name, plan.profile, list(columns["column_name"]), first_row)
                frame, found = importer.read_rows(raw, columns, name, [k for _, k in keys], first_row, seen)
            except ImportError_ as refused:
                if not any(importer.row_of(p) for p in refused.problems):  # the header or the profile: the file
                    raise
                problems += refused.problems
                first_row += rows
                if progress is not None:
                    progress(first_row - 1)
                continue
            found += record_rules.problems(table, frame, name, first_row)
        if site is not None:
            found += [f"{name} row {row}, field 'site_id': {value!r} is not your site ({site}); a site "
                      "manager imports the rows of their own site only"
                      for row, value in enumerate(frame["site_id"].tolist(), start=first_row) if value != site]
        if not found:
            inserts, updates, found = _classify(wh, plan, frame, declared, first_row, conn)
            if unique and inserts:  # a UNIQUE key other than the record id may not collide with a stored record
                found += importer.already_in_warehouse(wh, table, frame.iloc[inserts], name, columns,
                                                       rows=[p + first_row for p in inserts])
            if conn is not None and not found and not problems:
                _write(wh, conn, plan, frame, inserts, updates, columns, first_row)
        problems += found
        if first_row == 1:
            plan.frame = frame.head(PREVIEW_ROWS)
        notes.add(frame, first_row)
        first_row += rows
        if progress is not None:
            progress(first_row - 1)
        if len(problems) >= MAX_PROBLEMS:
            problems.append(f"{name}: stopped checking at row {first_row - 1:,} after {len(problems):,} "
                            "problems; mend these and import again")
            break
    if problems:
        raise ImportError_(sorted(problems, key=importer.row_of))
    plan.warnings = notes.lines()


def _write(wh: Warehouse, conn, plan: ImportPlan, frame: pd.DataFrame, inserts: list[int], updates: list[int],
           columns: pd.DataFrame, first_row: int) -> None:
    """A chunk's new and changed records, in conn's transaction; a write the database refuses (a key
    another writer stored since) names its rows."""
    try:
        if inserts:
            importer.write_rows(wh, conn, plan.table, frame.iloc[inserts])
        if updates:
            update_rows(conn, plan.table, plan.key, frame.iloc[updates])
    except WarehouseUnavailable:
        raise
    except Exception as exc:
        raise importer.refusal(wh, plan.table, frame.iloc[inserts], plan.file_name, exc, columns,
                               rows=[p + first_row for p in inserts]) from exc


def _classify(wh: Warehouse, plan: ImportPlan, frame: pd.DataFrame, declared: dict, first_row: int,
              conn) -> tuple[list[int], list[int], list[str]]:
    """(positions to insert, positions to update, problems) of a chunk, by its rows' primary keys; the
    plan's counts and changes grow with it. A site manager may not update another site's record."""
    everything = list(range(len(frame)))
    values = importer.key_values(frame, plan.key, declared) if plan.key else None
    if values is None:  # no key, or the file leaves a key column to the database: every row is new
        plan.counted["insert"] += len(frame)
        return everything, [], []
    compared = [c for c in frame.columns if c not in plan.key]
    fetched = compared + (["site_id"] if plan.site and "site_id" not in compared else [])
    stored = stored_records(wh, plan.table, plan.key, fetched, [v for v in values if v is not None], conn)
    where = {value: position for position, value in enumerate(values) if value is not None}
    matched = [where[k] for k in stored["_key"]]  # chunk position of each stored record
    found = set(matched)
    inserts = [p for p in everything if p not in found]
    if not matched:
        plan.counted["insert"] += len(inserts)
        return inserts, [], []
    if plan.site is not None:
        problems = [f"{plan.file_name} row {position + first_row}, {importer.key_fields_text(plan.key)}: "
                    f"{importer.key_value_text(values[position])} is a record of {owner}, not of your site "
                    f"({plan.site}); {OUTSIDE_SITE} the records of their own site only"
                    for position, owner in zip(matched, stored["site_id"], strict=True) if owner != plan.site]
        if problems:
            return [], [], problems
    # Column by column: one vectorised comparison, and `same` (NaN, NaT, float rounding) only where it fails.
    changed: dict[int, list[Change]] = {}
    for name in compared:
        new = frame[name].to_numpy(dtype=object)[matched]
        old = stored[name].to_numpy(dtype=object)
        equal = np.asarray(new == old, dtype=bool)
        for i in np.flatnonzero(~equal):
            if new[i] is DATABASE_DEFAULT or same(new[i], old[i]):
                continue
            changed.setdefault(matched[i], []).append(
                Change(matched[i] + first_row, _record_label(values[matched[i]]), name, plain(old[i]), plain(new[i])))
    updates = sorted(changed)
    plan.changes += [c for p in updates for c in changed[p]]
    plan.counted["insert"] += len(inserts)
    plan.counted["update"] += len(updates)
    plan.counted["unchanged"] += len(matched) - len(changed)
    return inserts, updates, []


def _record_label(value: tuple) -> str:
    return str(value[0]) if len(value) == 1 else importer.key_value_text(value)


def stored_records(wh: Warehouse, table: str, key: tuple[str, ...], columns: list[str],
                   values: list[tuple], conn=None) -> pd.DataFrame:
    """The stored records among ``values`` (tuples in key order): their ``columns`` and ``_key`` (the key
    tuple), read in ``conn`` (an import's transaction) or a connection of its own. Identifiers come from
    the warehouse's catalogue (quoted by SQLAlchemy); values are bound."""
    target = sql_table(table, *(sql_column(name) for name in (*key, *columns)))
    key_cols = [target.c[name] for name in key]
    rows: list = []
    with (nullcontext(conn) if conn is not None else wh.engine.connect()) as reader:
        for offset in range(0, len(values), STORED_CHUNK):
            chunk = values[offset:offset + STORED_CHUNK]
            where = key_cols[0].in_([v[0] for v in chunk]) if len(key) == 1 else tuple_(*key_cols).in_(chunk)
            rows += reader.execute(select(*key_cols, *(target.c[c] for c in columns)).where(where)).fetchall()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[*key, *columns])
    if frame.empty:
        return frame.assign(_key=pd.Series(dtype=object))
    frame["_key"] = [tuple(r[:len(key)]) for r in rows]
    wanted = set(values)  # a key the database matched by another rule (case, type) is not this row's record
    return frame[[k in wanted for k in frame["_key"]]].reset_index(drop=True)


def missing(value) -> bool:
    """None, NaN or NaT: what pandas makes of an empty cell."""
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def plain(value):
    """A value as a person reads it in a change list: None for empty, ISO text for a time."""
    if missing(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar from a pandas column
        return value.item()
    return value


def same(new, stored) -> bool:
    """The file's value (validated, in the column's type) equals the stored one."""
    if missing(new) or missing(stored):
        return missing(new) and missing(stored)
    if isinstance(new, datetime) and isinstance(stored, datetime):
        return pd.Timestamp(new) == pd.Timestamp(stored)
    new, stored = plain(new), plain(stored)
    if isinstance(new, float) or isinstance(stored, float):
        try:
            return math.isclose(float(new), float(stored), rel_tol=1e-12, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return new == stored


def import_file(wh: Warehouse, table: str, path: str | Path, *, audit_as: str | None = None,
                profile: str | None = None, site: str | None = None, dry_run: bool = False,
                reason: str | None = None) -> ImportPlan:
    """Check the import of one file into one table and, unless ``dry_run``, write it all or nothing in the
    same pass (with ``audit_as`` the audit entry commits with the rows; ``reason`` is required when the
    file changes stored records: see ``commit``). ``profile`` (a shipped profile's name or a file:
    queries/imports/profiles.py) maps another system's export to the table first."""
    if dry_run:
        plan = plan_import(wh, table, path, profile=profile, site=site)
    else:
        plan = prepare(wh, table, path, profile=profile, site=site)
        commit(wh, plan, audit_as=audit_as, reason=reason)
        logger.info("%s into %s: %s", plan.file_name, table, audit_text(plan))
    for warning in plan.warnings:
        logger.warning("%s", warning)
    return plan


class ReasonRequired(ImportError_):
    """The file changes stored records and no reason for the change was given."""


def commit(wh: Warehouse, plan: ImportPlan, *, audit_as: str | None, reason: str | None = None,
           progress: Progress | None = None) -> None:
    """Read the file again and write it in one transaction, checking every row as it goes (another import
    may have stored some of it since the dry run: the counts become what was written), with the audit
    entries; or nothing.

    The import's entry names the counts and the file's SHA-256. A changed record is a change to a GMP
    record, so each one also gets an entry of its own (``import_update``: the record, every changed field's
    stored and new value, and the ``reason``, which is then required: EU GMP Annex 11 §9, 21 CFR
    11.10(e)); without a reason such a file is refused and nothing is written."""
    logger.info("%s: checking and writing to %s in one transaction", plan.file_name, plan.table)
    if sha256_of(plan.source) != plan.sha256:
        raise ImportError_([f"{plan.file_name}: the file changed after its dry run; nothing was written"])
    reason = (reason or "").strip() or None
    try:
        with wh.transaction() as conn:
            _read(wh, plan, conn, progress)
            if plan.changes and reason is None:
                raise ReasonRequired([
                    f"{plan.file_name}: the file changes {plan.counted['update']:,} stored record(s) of "
                    f"{plan.table}; give the reason for the change (it is recorded with each record's old and "
                    "new values); nothing was written"])
            if audit_as is not None:
                audit.append(wh, user_id=audit_as, action="import", object_type=plan.table,
                             object_id=plan.file_name, new_value=audit_text(plan), reason=reason, conn=conn)
                audit.append_many(wh, change_entries(plan, audit_as, reason), conn)
    except ReasonRequired:
        raise
    except ImportError_:
        # Rolled back. The writing pass compared later chunks with the rows it had written from earlier
        # ones; a dry run names the problems as the warehouse holds them (if it finds none, the pass's stand).
        _read(wh, plan, conn=None)
        raise
    except WarehouseUnavailable as exc:  # disk full, read-only file, server gone: nothing written
        raise ImportError_([f"{plan.file_name}: nothing was written: {exc}"]) from exc
    except Exception as exc:  # anything else the database refused: nothing written
        raise importer.refusal(wh, plan.table, pd.DataFrame(), plan.file_name, exc) from exc


def change_entries(plan: ImportPlan, user_id: str, reason: str | None) -> list[dict]:
    """One audit entry per record the import changed: its fields' stored values as ``old_value`` and the
    file's as ``new_value`` (JSON objects, field -> value). They follow the import's own entry (the file
    and its SHA-256) in the chain, in the same transaction."""
    by_record: dict[str, list[Change]] = {}
    for change in plan.changes:
        by_record.setdefault(change.record, []).append(change)
    return [{"user_id": user_id, "action": "import_update", "object_type": plan.table, "object_id": record,
             "reason": reason,
             "old_value": json.dumps({c.field: c.stored for c in changes}, default=str, ensure_ascii=False),
             "new_value": json.dumps({c.field: c.new for c in changes}, default=str, ensure_ascii=False)}
            for record, changes in by_record.items()]


def audit_text(plan: ImportPlan) -> str:
    c = plan.counts
    return (f"{c['insert']:,} inserted, {c['update']:,} updated, {c['unchanged']:,} unchanged; sha256 {plan.sha256}"
            + (f"; profile {plan.profile}" if plan.profile else ""))


def update_rows(conn, table: str, key: tuple[str, ...], rows: pd.DataFrame) -> None:
    """UPDATE each row's record (matched on the key) with the file's fields, in the caller's transaction.
    A cell whose default only the database computes leaves that field as stored."""
    data_version.note_write(conn, table)
    fields = [c for c in rows.columns if c not in key]
    groups: dict[tuple[str, ...], list[dict]] = {}
    for record in rows.to_dict("records"):
        kept = tuple(c for c in fields if record[c] is not DATABASE_DEFAULT)
        groups.setdefault(kept, []).append({f"k_{c}": record[c] for c in key} | {f"v_{c}": record[c] for c in kept})
    target = sql_table(table, *(sql_column(name) for name in rows.columns))
    for kept, params in groups.items():
        if not kept:
            continue
        statement = (update(target).where(and_(*(target.c[c] == bindparam(f"k_{c}") for c in key)))
                     .values({c: bindparam(f"v_{c}") for c in kept}))
        conn.execute(statement, [_python(p) for p in params])


def _python(params: dict) -> dict:
    """Bound values as the drivers take them (pandas may hand back numpy scalars or NaN for None)."""
    out = {}
    for name, value in params.items():
        if missing(value):
            value = None
        elif hasattr(value, "item") and not isinstance(value, str):
            value = value.item()
        elif isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        out[name] = value
    return out
