"""Data versions: a token per data domain, changed by every write, so cached answers know they are stale.

Every write goes through `Warehouse.transaction()`. Inside it, the tables a transaction writes are
noted (statements through SQLAlchemy are recognised by their text; `bulk_insert` says which table it
fills), and just before the commit the versions of the domains those tables belong to are replaced by
new random tokens in the same transaction: readers in any process (gunicorn workers, the MQTT bridge,
the CLI) see new data and a new version at the same instant. Cache keys hold the version
(queries/engine/result_cache.py), so invalidation is explicit and needs no message between processes.

Three domains, because live ingest writes several times a second and would otherwise empty the cache
of 90-day KPIs just as often:

- ``live``: readings, rollups, newest values, heartbeats, excursions (what ingest writes). Changed by
  every such transaction: the live tiles, trends and excursion lists key on it.
- ``measurements``: readings, rollups and heartbeats seen by the KPIs that count them (uptime, data
  completeness, drift). Ingest statements change it at most once every ``MEASUREMENTS_EVERY_S``
  seconds (5 minutes), so those KPIs are at most that much behind live data; bulk loads (imports,
  generation) change it at once, and quality too (a history load changes finished days, which the
  drift analysis reads; ingest only adds to today, which it does not).
- ``quality``: batches, deviations, CAPAs, surveys, training, documents, sites ... and excursions (an
  excursion opens with its proposed deviation): changed by every transaction that writes one of them.
  KPIs that read only these are never recomputed because sensors keep reporting.

Users, sessions, display tokens and the audit trail are no data version's business: a login does not
empty the KPI cache. Tokens are random (not counters), so a regenerated warehouse never meets cached
answers of an older one with the same count.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import event, text

from queries.engine.sql_files import load_sql

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from queries.engine.warehouse import Warehouse

logger = logging.getLogger(__name__)

LIVE, MEASUREMENTS, QUALITY = "live", "measurements", "quality"
DOMAINS = (LIVE, MEASUREMENTS, QUALITY)  # also the order rows are changed in (no lock cycles)
LIVE_TABLES = frozenset({"readings", "reading_rollups", "sensor_latest", "ingest_heartbeats", "excursions"})
MEASUREMENT_TABLES = frozenset({"readings", "reading_rollups", "ingest_heartbeats"})
QUALITY_TABLES = frozenset({
    "sites", "rooms", "sensors", "limits", "specifications", "batches", "deviations", "capas",
    "near_misses", "programmes", "survey_responses", "training_records", "inspections", "documents",
    "sop_executions", "excursions", "deviation_proposals",
})
MEASUREMENTS_EVERY_S = 300  # 90-day uptime and completeness move little in five minutes; recomputing them
# for every open scope each minute cost more than two cores could give at 21 sites (bench/load.py).
_WRITTEN = "atmp_written_tables"  # key in Connection.info
_BULK = "atmp_bulk_written_tables"  # written by bulk loads: measurements change at once
_DML = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?|COPY)\s+"
                  r"([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_COMMENT = re.compile(r"--[^\n]*")
_READY: dict[int, bool] = {}  # id(engine) -> the data_versions table is known to exist
_READY_LOCK = threading.Lock()


def install(wh: Warehouse) -> None:
    """Note the tables that statements run through SQLAlchemy write (once per engine)."""
    if event.contains(wh.engine, "before_cursor_execute", _note_statement):
        return
    event.listen(wh.engine, "before_cursor_execute", _note_statement)


def _note_statement(conn, _cursor, statement, _parameters, _context, _executemany) -> None:
    if not any(k in statement[:4000].upper() for k in ("INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE",
                                                          "COPY")):
        return
    tables = {m.lower() for m in _DML.findall(_COMMENT.sub("", statement))}
    if tables & (LIVE_TABLES | QUALITY_TABLES):
        conn.info.setdefault(_WRITTEN, set()).update(tables)


def note_write(conn: Connection, table: str) -> None:
    """For writes that bypass SQLAlchemy's statement events (bulk loads on the raw driver connection)."""
    conn.info.setdefault(_WRITTEN, set()).add(table)
    conn.info.setdefault(_BULK, set()).add(table)


def domains_written(tables: set[str]) -> set[str]:
    found = set()
    if tables & LIVE_TABLES:
        found.add(LIVE)
    if tables & MEASUREMENT_TABLES:
        found.add(MEASUREMENTS)
    if tables & QUALITY_TABLES:
        found.add(QUALITY)
    return found


def before_commit(wh: Warehouse, conn: Connection) -> None:
    """Change the versions of the domains this transaction wrote (inside it, just before its commit)."""
    written = conn.info.pop(_WRITTEN, None)
    bulk = conn.info.pop(_BULK, None) or set()
    if not written:
        return
    domains = domains_written(written)
    if bulk & MEASUREMENT_TABLES:  # a history load can change finished days (drift): quality-keyed too
        domains.add(QUALITY)
    if not domains:
        return
    _ensure_table(wh, conn)
    now = datetime.now(UTC).replace(tzinfo=None)
    for domain in DOMAINS:  # fixed order: two writers never wait on each other's rows in a cycle
        if domain not in domains:
            continue
        if domain == MEASUREMENTS and not (bulk & MEASUREMENT_TABLES):  # ingest: at most every MEASUREMENTS_EVERY_S
            wh.run(conn, "sql/data_version_follow", {
                "domain": MEASUREMENTS, "version": _token(), "changed_at": now,
                "older_than": now - timedelta(seconds=MEASUREMENTS_EVERY_S)})
        else:
            _set(wh, conn, domain, now)
    for listener in list(_LISTENERS):
        listener(wh)


def bump(wh: Warehouse, *domains: str) -> None:
    """Replace these domains' versions now, without writing data (benchmarks: what new data of those
    domains does to the caches)."""
    with wh.transaction() as conn:
        _ensure_table(wh, conn)
        now = datetime.now(UTC).replace(tzinfo=None)
        for domain in DOMAINS:
            if domain in domains:
                _set(wh, conn, domain, now)
    for listener in list(_LISTENERS):
        listener(wh)


def _set(wh: Warehouse, conn: Connection, domain: str, now: datetime) -> None:
    wh.run(conn, "sql/data_version_set", {"domain": domain, "version": _token(), "changed_at": now})


def _token() -> str:
    return f"{time.time_ns():x}-{secrets.token_hex(4)}"


def _ensure_table(wh: Warehouse, conn: Connection) -> None:
    """Warehouses created before the table existed get it (portable DDL; once per engine)."""
    key = id(wh.engine)
    if _READY.get(key):
        return
    conn.execute(text(load_sql("sql/data_versions_create")))
    with _READY_LOCK:
        _READY[key] = True


def ensure(wh: Warehouse) -> bool:
    """Create the version table in a warehouse made before it existed; False if that is not possible
    (a read-only file, a role without CREATE): answers are then simply not cached."""
    try:
        with wh.transaction() as conn:
            _ensure_table(wh, conn)
    except Exception as exc:
        logger.warning("data versions unavailable (%s: %s): results are not cached", type(exc).__name__, exc)
        return False
    return True


def current(wh: Warehouse) -> dict[str, str] | None:
    """{domain: version} as stored now; None when the warehouse has no version table yet (no caching)."""
    try:
        frame = wh.query("sql/data_versions")
    except Exception as exc:  # an older warehouse without the table: answer uncached, never fail
        logger.debug("no data versions (%s): results are not cached", exc)
        return None
    versions = dict.fromkeys(DOMAINS, "0")
    versions.update(dict(zip(frame["domain"], frame["version"], strict=True)))
    return versions


# In-process listeners (e.g. a result cache dropping its memo of the versions at once).
_LISTENERS: list = []


def on_change(listener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)
