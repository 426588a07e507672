"""The query layer of live ingest: staging a batch and every ingest statement (SQL in queries/ingest/).

Batches travel into the warehouse through a staging relation: on DuckDB a temporary table built
from one list per column (an order of magnitude faster than scanning a registered DataFrame inside
INSERT ... ON CONFLICT), on PostgreSQL a temporary table filled by COPY. The statements in
queries/ingest/*.sql then read `ingest_stage_*` the same way on both engines.
"""

from __future__ import annotations

import logging

from sqlalchemy import table as sql_table
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import DropTable

from queries.engine.sql_files import load_sql
from queries.engine.warehouse import QueryError, Warehouse

logger = logging.getLogger(__name__)

# stage relation -> columns in order. Names come only from this whitelist; each has a DDL query per
# dialect: queries/ingest/<stage minus ingest_>_duckdb.sql (a temp table built from one list per
# column) and ..._pg.sql (a temp table dropped at commit, filled by COPY).
STAGES: dict[str, tuple[str, ...]] = {
    "ingest_stage_readings": ("sensor_id", "ts", "value", "msg_id"),
    "ingest_stage_new": ("sensor_id", "ts", "value"),
    "ingest_stage_quarantine": ("received_at", "topic", "payload", "reason"),
}


def stage(wh: Warehouse, conn: Connection, name: str, columns: dict[str, list]) -> None:
    """Make `columns` (equal-length lists) readable as `name` inside the caller's transaction, in place
    of what an earlier stage of that name in the transaction held (an import stages chunk after chunk)."""
    if name not in STAGES or list(columns) != list(STAGES[name]):
        raise QueryError(f"unknown staging relation {name!r} or columns {list(columns)}")
    raw = conn.connection.dbapi_connection
    ddl = f"ingest/{name.removeprefix('ingest_')}"
    if wh.dialect == "duckdb":
        raw.execute(load_sql(f"{ddl}_duckdb"), columns)  # $name parameters, one list each
        return
    conn.execute(DropTable(sql_table(name), if_exists=True))  # an earlier chunk's stage in this transaction
    conn.execute(text(load_sql(f"{ddl}_pg")))  # ON COMMIT DROP
    col_list = ", ".join(columns)  # whitelisted above
    with raw.cursor() as cur, cur.copy(f"COPY {name} ({col_list}) FROM STDIN") as copy:
        for row in zip(*columns.values(), strict=True):
            copy.write_row(row)


def insert_readings(wh: Warehouse, conn: Connection, columns: dict[str, list]) -> list[tuple]:
    """Insert a batch (msg_ids unique within it); returns the rows that were new: (sensor_id, ts, value).
    They are also staged as ingest_stage_new for the rollup and latest-value statements."""
    if not columns["msg_id"]:
        return []
    stage(wh, conn, "ingest_stage_readings", columns)
    return insert_staged_readings(wh, conn)


def insert_staged_readings(wh: Warehouse, conn: Connection) -> list[tuple]:
    """insert_readings for a batch already staged as ingest_stage_readings."""
    new = [tuple(r) for r in wh.execute(conn, "ingest/insert_readings").fetchall()]
    if new:
        sensor_id, ts, value = (list(c) for c in zip(*new, strict=True))
        stage(wh, conn, "ingest_stage_new", {"sensor_id": sensor_id, "ts": ts, "value": value})
    return new


def add_new_to_rollups_and_latest(wh: Warehouse, conn: Connection, received_at) -> None:
    """Rollups (minute, hour, day) and newest values from ingest_stage_new (after insert_readings)."""
    wh.execute(conn, "ingest/upsert_rollups")
    wh.execute(conn, "ingest/upsert_latest", {"received_at": received_at})
    wh.execute(conn, "ingest/insert_latest", {"received_at": received_at})


def text_safe(value):
    """A string any text column takes: NUL (which PostgreSQL text cannot hold) and unpaired surrogates
    become visible escapes (\\x00, \\udcff). None stays None."""
    if not isinstance(value, str):
        return value
    return value.encode("utf-8", errors="backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def quarantine(wh: Warehouse, conn: Connection, columns: dict[str, list]) -> int:
    """Quarantine rejected messages: `payload` is their raw bytes (any byte sequence, stored as
    BYTEA/BLOB and read back byte for byte); topic and reason are made safe for a text column."""
    if not columns["reason"]:
        return 0
    safe = {"received_at": list(columns["received_at"]),
            "topic": [text_safe(t) for t in columns["topic"]],
            "payload": [None if p is None else bytes(p) for p in columns["payload"]],
            "reason": [text_safe(r) for r in columns["reason"]]}
    stage(wh, conn, "ingest_stage_quarantine", safe)
    wh.execute(conn, "ingest/insert_quarantine")
    return len(safe["reason"])


def quarantine_counts(wh: Warehouse, since) -> tuple[int, int]:
    """(messages quarantined since `since`, those of them on a topic outside the pattern)."""
    row = wh.query("ingest/quarantine_counts", {"since": since}).iloc[0]
    return int(row["quarantined"]), int(row["bad_topic"])
