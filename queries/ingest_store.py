"""The query layer of live ingest: staging a batch and every ingest statement (SQL in queries/ingest/).

Batches travel into the warehouse through a staging relation: a registered DataFrame on DuckDB, a
temporary table filled by COPY on PostgreSQL. The statements in queries/ingest/*.sql then read
`ingest_stage_*` the same way on both engines (INSERT ... ON CONFLICT is portable).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
from sqlalchemy import String, bindparam, text
from sqlalchemy.engine import Connection

from queries.warehouse import LIST_PARAMS, QueryError, Warehouse, load_sql

logger = logging.getLogger(__name__)

# stage relation -> (PostgreSQL DDL query, columns in order). Names come only from this whitelist.
STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ingest_stage_readings": ("ingest/stage_readings_pg", ("sensor_id", "ts", "value", "msg_id")),
    "ingest_stage_rollups": ("ingest/stage_rollups_pg",
                             ("sensor_id", "grain", "bucket", "n", "value_mean", "value_min", "value_max")),
    "ingest_stage_latest": ("ingest/stage_latest_pg", ("sensor_id", "ts", "value", "received_at")),
    "ingest_stage_quarantine": ("ingest/stage_quarantine_pg", ("received_at", "topic", "payload", "reason")),
}
GRAINS = {"minute": "min", "hour": "h", "day": "D"}  # rollup grain -> pandas floor frequency


@contextmanager
def staged(wh: Warehouse, conn: Connection, stage: str, frame: pd.DataFrame) -> Iterator[None]:
    """Make `frame` readable as `stage` inside the caller's transaction (one use per transaction)."""
    if stage not in STAGES:
        raise QueryError(f"unknown staging relation {stage!r}")
    ddl, columns = STAGES[stage]
    frame = frame.loc[:, list(columns)]
    raw = conn.connection.dbapi_connection
    if wh.dialect == "duckdb":
        raw.register(stage, frame)
        try:
            yield
        finally:
            raw.unregister(stage)
        return
    conn.execute(text(load_sql(ddl)))  # ON COMMIT DROP
    col_list = ", ".join(columns)  # whitelisted above
    with raw.cursor() as cur, cur.copy(f"COPY {stage} ({col_list}) FROM STDIN") as copy:
        for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
            copy.write_row(row)
    yield


def execute(wh: Warehouse, conn: Connection, name: str, params: dict | list[dict] | None = None):
    """Run queries/<name>.sql on the caller's connection (inside its transaction); returns the result.

    A list of parameter dicts runs the statement once per dict (executemany)."""
    sql = load_sql(name)
    if isinstance(params, list):
        if not params:
            return None
        bound = [wh.bind(name, sql, p, None) for p in params]
        return conn.execute(text(sql), bound)
    bound = wh.bind(name, sql, params or {}, None)
    stmt = text(sql)
    for list_param in LIST_PARAMS & bound.keys():
        stmt = stmt.bindparams(bindparam(list_param, expanding=True, type_=String))
    return conn.execute(stmt, bound)


def fetch(wh: Warehouse, conn: Connection, name: str, params: dict | None = None) -> pd.DataFrame:
    result = execute(wh, conn, name, params)
    return pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))


def insert_readings(wh: Warehouse, conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """Insert a batch (msg_ids unique within it); returns the rows that were new (sensor_id, ts, value)."""
    if frame.empty:
        return pd.DataFrame(columns=["sensor_id", "ts", "value"])
    with staged(wh, conn, "ingest_stage_readings", frame):
        return fetch(wh, conn, "ingest/insert_readings")


def rollup_increments(new: pd.DataFrame) -> pd.DataFrame:
    """Per (sensor, grain, bucket): n, mean, min, max of the new readings (added to the stored rollups)."""
    parts = []
    ts = pd.to_datetime(new["ts"])
    for grain, freq in GRAINS.items():
        agg = (new.assign(bucket=ts.dt.floor(freq))
               .groupby(["sensor_id", "bucket"], sort=False)["value"]
               .agg(n="count", value_mean="mean", value_min="min", value_max="max").reset_index())
        agg.insert(1, "grain", grain)
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    out["n"] = out["n"].astype("int64")
    return out


def add_to_rollups(wh: Warehouse, conn: Connection, new: pd.DataFrame) -> int:
    if new.empty:
        return 0
    increments = rollup_increments(new)
    with staged(wh, conn, "ingest_stage_rollups", increments):
        execute(wh, conn, "ingest/upsert_rollups")
    return len(increments)


def update_latest(wh: Warehouse, conn: Connection, new: pd.DataFrame, received_at) -> None:
    if new.empty:
        return
    latest = new.sort_values("ts", kind="stable").groupby("sensor_id", sort=False).tail(1)
    latest = latest.assign(received_at=received_at)
    with staged(wh, conn, "ingest_stage_latest", latest):
        execute(wh, conn, "ingest/upsert_latest")


def quarantine(wh: Warehouse, conn: Connection, frame: pd.DataFrame) -> int:
    if frame.empty:
        return 0
    with staged(wh, conn, "ingest_stage_quarantine", frame):
        execute(wh, conn, "ingest/insert_quarantine")
    return len(frame)
