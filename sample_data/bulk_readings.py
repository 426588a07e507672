"""Writing generated readings and their rollups: the same rows on both engines, each the fast way.

DuckDB takes the readings as DataFrames and builds the hourly and daily rollups afterwards with one
SQL scan each (queries/sql/rollups_*.sql): both take seconds even at the large scale.

PostgreSQL is fed differently, because text COPY of a formatted DataFrame and two GROUP BY scans of
hundreds of millions of rows dominated a large load: each chunk (whole sensors only) is encoded as
binary COPY straight from the numpy arrays (no float formatting, exact doubles) and copied twice, into
`readings` and into a temporary staging table, and that chunk's hourly and daily rollups are built
from the staging table by the same aggregate SQL (queries/sql/rollups_*_stage_pg.sql). A sensor's
buckets never span two chunks, so the rollups hold the same rows and values as one scan at the end.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import text

from queries.engine.sql_files import load_sql
from queries.engine.warehouse import Warehouse
from sample_data import environment

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

logger = logging.getLogger(__name__)

PG_EPOCH_S = 946_684_800  # 2000-01-01T00:00:00Z: PostgreSQL's binary timestamp epoch
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
STAGE = "sample_stage_readings"  # temp table name (fixed; never from input)
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class ReadingsWriter:
    """`write(parts)` for each chunk of (sensor_id, ts seconds, values), then `finish()`."""

    def __init__(self, warehouse: Warehouse, conn: Connection):
        self.warehouse, self.conn = warehouse, conn
        self.postgres = warehouse.dialect == "postgresql"
        self._rebuild: list[str] = []
        if self.postgres:
            warehouse.run(conn, "sql/pg_bulk_load_session")
            warehouse.run(conn, "sql/rollups_stage_create_pg")
            self._set_aside_indexes()

    def write(self, parts: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
        if not parts:
            return
        if not self.postgres:
            self.warehouse.bulk_insert(self.conn, "readings", environment.readings_frame(parts))
            return
        payload = copy_binary(parts)
        raw = self.conn.connection.dbapi_connection
        with raw.cursor() as cur:
            for table in ("readings", STAGE):  # fixed names
                with cur.copy(f"COPY {table} (sensor_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(payload)
        from queries.engine.data_version import note_write  # a raw COPY: tell the data version it happened

        note_write(self.conn, "readings")
        self.warehouse.run(self.conn, "sql/rollups_hour_stage_pg")
        self.warehouse.run(self.conn, "sql/rollups_day_stage_pg")
        self.warehouse.run(self.conn, "sql/rollups_stage_clear_pg")

    def finish(self) -> None:
        if not self.postgres:
            self.warehouse.run(self.conn, "sql/rollups_hour")
            self.warehouse.run(self.conn, "sql/rollups_day")
            return
        self.warehouse.run(self.conn, "sql/pg_bulk_index_session")
        for definition in self._rebuild:  # one sort each, instead of an insert per row
            self.conn.exec_driver_sql(definition)
        self._rebuild = []

    def _set_aside_indexes(self) -> None:
        """Indexes the load would otherwise update row by row (queries/sql/pg_bulk_load_indexes.sql) are
        dropped for the load and rebuilt by finish(), all in the load's transaction: a failed load
        leaves them as they were, and a rebuilt primary key checks every row again. Names and
        definitions come from the catalogue, never from input."""
        result = self.conn.execute(text(load_sql("sql/pg_bulk_load_indexes")))
        for table, name, is_constraint, definition in result.fetchall():
            if not (IDENTIFIER.fullmatch(table) and IDENTIFIER.fullmatch(name)):
                raise ValueError(f"unexpected index name {name!r} on {table!r}")
            if is_constraint:
                self.conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                self._rebuild.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            else:
                self.conn.exec_driver_sql(f'DROP INDEX "{name}"')
                self._rebuild.append(definition)
        if self._rebuild:
            logger.info("bulk load: %s index(es) rebuilt after the load", len(self._rebuild))


def copy_binary(parts: list[tuple[str, np.ndarray, np.ndarray]]) -> bytes:
    """PostgreSQL binary COPY rows (sensor_id text, ts timestamp, value float8) for whole sensors.

    Each sensor's rows share one id, so a packed numpy record per sensor encodes them without a
    Python loop over rows: field count, then (length, bytes) per field, all big-endian."""
    blocks = [COPY_HEADER]
    for sensor_id, ts, values in parts:
        sid = sensor_id.encode()
        record = np.dtype([("fields", ">i2"), ("sid_len", ">i4"), ("sid", f"S{len(sid)}"), ("ts_len", ">i4"),
                           ("ts", ">i8"), ("value_len", ">i4"), ("value", ">f8")])
        rows = np.empty(len(ts), dtype=record)
        rows["fields"] = 3
        rows["sid_len"] = len(sid)
        rows["sid"] = sid
        rows["ts_len"] = 8
        rows["ts"] = (np.asarray(ts, dtype="int64") - PG_EPOCH_S) * 1_000_000
        rows["value_len"] = 8
        rows["value"] = np.asarray(values, dtype="float64")
        blocks.append(rows.tobytes())
    blocks.append(COPY_TRAILER)
    return b"".join(blocks)


