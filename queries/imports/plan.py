"""What an import would do, worked out before anything is written, and the all-or-nothing write of it.

A row is identified by its table's PRIMARY KEY (the source system's record id: deviation_id, capa_id...).
A row whose key the warehouse does not hold is inserted; one it holds is compared field by field with the
stored record and updated when a field the file carries differs (a later export closing a CAPA), or left
alone when none does: importing the same export twice changes nothing. The plan lists every change
(row, record, field, stored value, file value) so the dry run shows it before it happens.

A site manager (``site`` set) imports the rows of their own site only, into tables that have a site: a
row of another site, or an update of another site's record, refuses the whole file."""

from __future__ import annotations

import hashlib
import logging
import math
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
    frame: pd.DataFrame                  # the validated rows, in the table's types
    key: tuple[str, ...]                 # the PRIMARY KEY the rows are matched on (empty: insert all)
    insert_rows: list[int] = field(default_factory=list)   # 0-based positions in frame
    update_rows: list[int] = field(default_factory=list)
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # A file read in chunks (readings): frame holds its first rows only, the counts are kept here, and
    # commit reads the file (source, for site) again.
    counted: dict[str, int] | None = None
    source: Path | None = None
    site: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        if self.counted is not None:
            return dict(self.counted)
        return {"insert": len(self.insert_rows), "update": len(self.update_rows), "unchanged": self.unchanged}

    def summary(self) -> str:
        c = self.counts
        return f"{c['insert']:,} to insert, {c['update']:,} to update, {c['unchanged']:,} unchanged"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def plan_import(wh: Warehouse, table: str, path: str | Path, *, profile: str | None = None,
                site: str | None = None) -> ImportPlan:
    """Everything an import checks, and what it would insert, update and leave alone; writes nothing.
    Raises ImportError_ listing every problem (file, row, field, why)."""
    path = Path(path)
    if table not in TARGETS:
        raise ImportError_([f"{path.name}: table {table!r} cannot be imported "
                            f"(importable: {', '.join(sorted(TARGETS))})"])
    if table == em_history.TABLE:
        return _plan_readings(wh, path, profile, site)
    columns = importer.table_columns(wh, table)
    if site is not None and (table == "sites" or "site_id" not in set(columns["column_name"])):
        raise ImportError_([f"{path.name}: a site manager imports rows of their own site only; {table} has "
                            "no site (network data is imported by quality leadership or an administrator)"])
    raw = importer.open_file(path)
    keys = importer.table_constraints(wh, table)
    if table == survey_import.TABLE:  # a survey tool's export: its headers, and the anonymity checks
        if profile is not None:
            raise ImportError_([f"{path.name}: survey exports are read by their own rules, not a profile"])
        frame = survey_import.validate_survey(raw, path.name, known_sites=set(wh.query("sql/site_ids")["site_id"]))
    else:
        if profile is not None:
            raw = importer.mapped(wh, table, raw, path.name, profile, list(columns["column_name"]))
        frame = importer.validate(raw, columns, path.name, keys=[k for _, k in keys])
        broken = record_rules.problems(table, frame, path.name)
        if broken:
            raise ImportError_(broken)
    if site is not None:
        outside = [f"{path.name} row {row}, field 'site_id': {value!r} is not your site ({site}); a site "
                   "manager imports the rows of their own site only"
                   for row, value in enumerate(frame["site_id"].tolist(), start=1) if value != site]
        if outside:
            raise ImportError_(outside)
    primary = next((k for kind, k in keys if kind == "PRIMARY KEY"), ())
    plan = ImportPlan(table=table, file_name=path.name, sha256=sha256_of(path), profile=profile, frame=frame,
                      key=primary)
    declared = {r.column_name: r for r in columns.itertuples()}
    unique = [k for kind, k in keys if kind != "PRIMARY KEY"]
    problems = _classify(wh, plan, declared, site)
    if unique:  # a UNIQUE key other than the record id may not collide with a stored record
        problems += importer.already_in_warehouse(wh, table, frame.iloc[plan.insert_rows], path.name, columns)
    if problems:
        raise ImportError_(problems)
    plan.warnings = importer.warnings(wh, table, frame, path.name)
    return plan


def _plan_readings(wh: Warehouse, path: Path, profile: str | None, site: str | None) -> ImportPlan:
    found = em_history.run(wh, path, profile=profile, site=site, outside_site=OUTSIDE_SITE)
    return ImportPlan(table=em_history.TABLE, file_name=path.name, sha256=sha256_of(path), profile=profile,
                      frame=found.preview, key=("msg_id",), warnings=found.warnings,
                      counted={"insert": found.insert, "update": 0, "unchanged": found.unchanged},
                      source=path, site=site)


def _classify(wh: Warehouse, plan: ImportPlan, declared: dict, site: str | None) -> list[str]:
    """Sort the rows into insert / update / unchanged by their primary key; the changes of each update."""
    frame = plan.frame
    if not plan.key:
        plan.insert_rows = list(range(len(frame)))
        return []
    values = importer.key_values(frame, plan.key, declared)
    if values is None:  # the file leaves a key column to the database: every row is new
        plan.insert_rows = list(range(len(frame)))
        return []
    compared = [c for c in frame.columns if c not in plan.key]
    fetched = compared + (["site_id"] if site and "site_id" not in compared else [])
    stored = stored_records(wh, plan.table, plan.key, fetched, [v for v in values if v is not None])
    where = {value: position for position, value in enumerate(values) if value is not None}
    matched = [where[k] for k in stored["_key"]]  # file row of each stored record
    found = set(matched)
    plan.insert_rows = [p for p in range(len(frame)) if p not in found]
    if not matched:
        return []
    problems = []
    if site is not None:
        for position, owner in zip(matched, stored["site_id"], strict=True):
            if owner != site:
                problems.append(f"{plan.file_name} row {position + 1}, {importer.key_fields_text(plan.key)}: "
                                f"{importer.key_value_text(values[position])} is a record of {owner}, not of your site "
                                f"({site}); {OUTSIDE_SITE} the records of their own site only")
        if problems:
            return problems
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
                Change(matched[i] + 1, _record_label(values[matched[i]]), name, plain(old[i]), plain(new[i])))
    plan.update_rows = sorted(changed)
    plan.changes = [c for p in plan.update_rows for c in changed[p]]
    plan.unchanged = len(matched) - len(changed)
    return problems


def _record_label(value: tuple) -> str:
    return str(value[0]) if len(value) == 1 else importer.key_value_text(value)


def stored_records(wh: Warehouse, table: str, key: tuple[str, ...], columns: list[str],
                   values: list[tuple]) -> pd.DataFrame:
    """The stored records among ``values`` (tuples in key order): their ``columns`` and ``_key`` (the key
    tuple). Identifiers come from the warehouse's catalogue (quoted by SQLAlchemy); values are bound."""
    target = sql_table(table, *(sql_column(name) for name in (*key, *columns)))
    key_cols = [target.c[name] for name in key]
    rows: list = []
    with wh.engine.connect() as conn:
        for offset in range(0, len(values), STORED_CHUNK):
            chunk = values[offset:offset + STORED_CHUNK]
            where = key_cols[0].in_([v[0] for v in chunk]) if len(key) == 1 else tuple_(*key_cols).in_(chunk)
            rows += conn.execute(select(*key_cols, *(target.c[c] for c in columns)).where(where)).fetchall()
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
                profile: str | None = None, site: str | None = None, dry_run: bool = False) -> ImportPlan:
    """Plan the import of one file into one table and, unless ``dry_run``, write it all or nothing (with
    ``audit_as`` the audit entry commits with the rows). ``profile`` (a shipped profile's name or a file:
    queries/imports/profiles.py) maps another system's export to the table first."""
    path = Path(path)
    if table == em_history.TABLE and not dry_run:  # a long file is read once: checked as it is written
        if not path.is_file():
            raise ImportError_([f"{path}: no such file"])
        plan = ImportPlan(table=table, file_name=path.name, sha256=sha256_of(path), profile=profile,
                          frame=pd.DataFrame(), key=("msg_id",), source=path, site=site)
    else:
        plan = plan_import(wh, table, path, profile=profile, site=site)
    if not dry_run:
        try:
            commit(wh, plan, audit_as=audit_as)
        except ImportError_:
            if plan.counted is None:  # refused while written: a dry run names the problems as they stand
                plan_import(wh, table, path, profile=profile, site=site)  # (the chunks it wrote were rolled back)
            raise
        logger.info("%s into %s: %s", plan.file_name, table, audit_text(plan))
    for warning in plan.warnings:
        logger.warning("%s", warning)
    return plan


def commit(wh: Warehouse, plan: ImportPlan, *, audit_as: str | None) -> None:
    """Write the plan in one transaction (inserts, updates, the audit entry with the counts and the file's
    SHA-256), or nothing."""
    frame = plan.frame
    known = plan.source is None or plan.counted is not None  # else counted as it is written
    logger.info("%s: %s; writing to %s in one transaction", plan.file_name,
                plan.summary() if known else "checked as it is written", plan.table)
    try:
        with wh.transaction() as conn:
            if plan.source is not None:
                _write_chunked(wh, conn, plan)
            elif plan.insert_rows:
                importer.write_rows(wh, conn, plan.table, frame.iloc[plan.insert_rows])
            if plan.update_rows:
                update_rows(conn, plan.table, plan.key, frame.iloc[plan.update_rows])
            if audit_as is not None:
                audit.append(wh, user_id=audit_as, action="import", object_type=plan.table,
                             object_id=plan.file_name, new_value=audit_text(plan), conn=conn)
    except ImportError_:  # a chunked file's second reading found a problem: rolled back
        raise
    except WarehouseUnavailable as exc:  # disk full, read-only file, server gone: nothing written
        raise ImportError_([f"{plan.file_name}: nothing was written: {exc}"]) from exc
    except Exception as exc:  # a constraint the database checks (CHECK, a racing writer): nothing written
        raise importer.refusal(wh, plan.table, frame.iloc[plan.insert_rows], plan.file_name, exc) from exc


def _write_chunked(wh: Warehouse, conn, plan: ImportPlan) -> None:
    """A readings file, read, checked and written again chunk by chunk in conn's transaction; the plan's
    counts become what was written (another import may have stored some of it since the dry run)."""
    if sha256_of(plan.source) != plan.sha256:
        raise ImportError_([f"{plan.file_name}: the file changed after its dry run; nothing was written"])
    done = em_history.run(wh, plan.source, profile=plan.profile, site=plan.site, outside_site=OUTSIDE_SITE,
                          conn=conn)
    plan.counted = {"insert": done.insert, "update": 0, "unchanged": done.unchanged}
    plan.frame, plan.warnings = done.preview, done.warnings


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
