"""The warehouse: one SQLAlchemy engine and the one path every query takes."""

from __future__ import annotations

import csv
import logging
import re
import threading
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import String, bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from queries.engine import data_version
from queries.engine.sql_files import QUERY_DIR, QueryError, declared_params, load_sql

if TYPE_CHECKING:
    from queries.engine.scope import Scope

logger = logging.getLogger(__name__)

SCHEMA_FILE = QUERY_DIR / "schema.sql"
# Dialect-specific DDL applied after the portable schema (e.g. PostgreSQL's audit_log triggers).
DIALECT_SCHEMA_FILES = {"postgresql": QUERY_DIR / "schema_postgresql.sql"}
# Parameters that only the scope may fill: a caller can never pass them.
SCOPE_PARAMS = frozenset({"sites", "network", "start", "end"})
# Parameters bound as lists (rendered as IN (...)).
LIST_PARAMS = frozenset({"sites", "ids"})
COPY_CHUNK_ROWS = 200_000


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached or opened; the message says which and why."""


def split_statements(script: str) -> list[str]:
    """Split a DDL script on ';' (psycopg runs one statement per execute); a $$-quoted function body
    stays whole."""
    body = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    statements, current = [], []
    for i, part in enumerate(body.split("$$")):
        if i % 2:  # inside $$ ... $$
            current.append(f"$${part}$$")
            continue
        pieces = part.split(";")
        current.append(pieces[0])
        for piece in pieces[1:]:
            statements.append("".join(current))
            current = [piece]
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def frame(rows, columns: list[str]) -> pd.DataFrame:
    """A DataFrame of fetched rows. Plain tuples: given SQLAlchemy Row objects, pandas probes each row's
    attributes and takes about 20x as long (0.68 s against 0.035 s for 50,000 readings)."""
    return pd.DataFrame.from_records([tuple(row) for row in rows], columns=columns)


class Warehouse:
    """Owns the engine. Every read goes through `query`, every write through `transaction`."""

    def __init__(self, url: str, *, row_cap: int = 200_000, statement_timeout_ms: int = 15_000,
                 read_only: bool = False):
        """``read_only``: the database itself refuses every write (DuckDB opens the file read-only; PostgreSQL
        sessions default to read-only transactions): `atmp-hub validate` reads a deployed warehouse so."""
        self.url = url
        self.row_cap = row_cap
        self.statement_timeout_ms = statement_timeout_ms
        self.dialect = "postgresql" if url.startswith("postgresql") else "duckdb"
        self._write_lock = threading.Lock()
        self._bulk_columns: dict[str, frozenset[str]] | None = None  # read from the schema on first use
        if self.dialect == "postgresql":
            self.engine: Engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                connect_args={"options": f"-c statement_timeout={int(statement_timeout_ms)} -c timezone=UTC"
                                         + (" -c default_transaction_read_only=on" if read_only else "")},
            )
        else:
            # Each pooled connection is its own DuckDB connection to the one in-process database,
            # so threads never share a cursor (DuckDB connections are not thread-safe).
            self.engine = create_engine(url, pool_size=8, max_overflow=8,
                                        connect_args={"read_only": True} if read_only else {})

            @event.listens_for(self.engine, "connect")
            def _utc(dbapi_conn, _record):
                dbapi_conn.execute("SET TimeZone = 'UTC'")
        data_version.install(self)  # writes change the data versions cache keys hold

    # -- reads ----------------------------------------------------------------------------------
    def query(
        self, name: str, params: dict | None = None, *, scope: Scope | None = None, sql: str | None = None
    ) -> pd.DataFrame:
        """Run queries/<name>.sql with bound parameters; scope fills sites/network/start/end."""
        sql = sql if sql is not None else load_sql(name)
        stmt, bound = self._statement(name, sql, params or {}, scope)
        logger.debug("query %s", name)
        try:
            with self.engine.connect() as conn, self._time_limit(conn, name):
                result = conn.execute(stmt, bound)
                rows = result.fetchmany(self.row_cap + 1)
                columns = list(result.keys())
        except QueryError:
            raise
        except Exception as exc:  # connection refused, file locked, timeout...
            raise self._translate(exc) from exc
        return self._capped(name, rows, columns)

    def _statement(self, name: str, sql: str, params: dict, scope: Scope | None):
        bound = self.bind(name, sql, params, scope)
        stmt = text(sql)
        for list_param in LIST_PARAMS & bound.keys():
            # Typed, so an empty list still compares as text (no sites -> no rows, not an error).
            stmt = stmt.bindparams(bindparam(list_param, expanding=True, type_=String))
        return stmt, bound

    def _capped(self, name: str, rows: list, columns: list[str]) -> pd.DataFrame:
        if len(rows) > self.row_cap:
            raise QueryError(f"query {name} returned more than {self.row_cap} rows")
        return frame(rows, columns)

    @contextmanager
    def _time_limit(self, conn: Connection, name: str):
        """DuckDB has no statement timeout: a timer interrupts the connection's query when it runs past
        the warehouse's limit (PostgreSQL enforces the same limit itself, set at connect)."""
        if self.dialect != "duckdb" or not self.statement_timeout_ms:
            yield
            return
        raw = conn.connection.dbapi_connection
        fired = threading.Event()

        def interrupt() -> None:
            fired.set()
            raw.interrupt()

        timer = threading.Timer(self.statement_timeout_ms / 1000, interrupt)
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception as exc:
            if fired.is_set():
                raise QueryError(f"query {name} stopped: it ran longer than the statement timeout "
                                 f"({self.statement_timeout_ms} ms)") from exc
            raise
        finally:
            timer.cancel()
            if fired.is_set():
                conn.invalidate()  # an interrupt that came as the query ended must not hit the next one

    @staticmethod
    def bind(name: str, sql: str, params: dict, scope: Scope | None) -> dict:
        """Check params against the query's declared ones; scope values come only from the scope."""
        declared = declared_params(sql)
        forged = SCOPE_PARAMS & params.keys()
        if forged:
            raise QueryError(f"query {name}: {sorted(forged)} come from the scope, not the caller")
        bound = dict(params)
        needs_scope = SCOPE_PARAMS & declared
        if needs_scope:
            if scope is None:
                raise QueryError(f"query {name} needs a scope for {sorted(needs_scope)}")
            bound.update({k: v for k, v in scope.as_params().items() if k in declared})
        missing, extra = declared - bound.keys(), bound.keys() - declared
        if missing or extra:
            raise QueryError(f"query {name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        return bound

    def scalar(self, name: str, params: dict | None = None, *, scope: Scope | None = None):
        df = self.query(name, params, scope=scope)
        return None if df.empty else df.iat[0, 0]

    # -- writes ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self, *, bulk: bool = False):
        """One transaction; everything inside commits together or not at all.
        bulk=True lifts the statement timeout for this transaction only (history loads, rebuilds)."""
        with self._write_lock:
            try:
                with self.engine.begin() as conn:
                    if bulk and self.dialect == "postgresql":
                        conn.execute(text(load_sql("sql/pg_no_statement_timeout")))
                    yield conn
                    data_version.before_commit(self, conn)
            except (QueryError, ValueError):
                raise
            except Exception as exc:
                raise self._translate(exc) from exc

    def execute(self, conn: Connection, name: str, params: dict | list[dict] | None = None):
        """Run queries/<name>.sql on the caller's connection (inside its transaction); returns the result.
        A list of parameter dicts runs the statement once per dict (executemany)."""
        sql = load_sql(name)
        if isinstance(params, list):
            if not params:
                return None
            return conn.execute(text(sql), [self.bind(name, sql, p, None) for p in params])
        stmt, bound = self._statement(name, sql, params or {}, None)
        return conn.execute(stmt, bound)

    def run(self, conn: Connection, name: str, params: dict | list[dict] | None = None) -> None:
        """Run a named write statement (queries/<name>.sql) inside a transaction."""
        self.execute(conn, name, params)

    def fetch(self, conn: Connection, name: str, params: dict | None = None) -> pd.DataFrame:
        """A read inside the caller's transaction (it sees the transaction's writes), capped as `query`."""
        result = self.execute(conn, name, params)
        return self._capped(name, result.fetchmany(self.row_cap + 1), list(result.keys()))

    def bulk_insert(self, conn: Connection, table: str, frame: pd.DataFrame) -> int:
        """Append a DataFrame to a table (columns by name) in the caller's transaction."""
        allowed = self.bulk_columns(conn)
        if table not in allowed:
            raise QueryError(f"bulk insert into {table!r} is not allowed")
        if frame.empty:
            return 0
        columns = list(frame.columns)
        unknown = set(columns) - allowed[table]
        if unknown:
            raise QueryError(f"bulk insert into {table}: unknown columns {sorted(unknown)}")
        data_version.note_write(conn, table)
        col_list = ", ".join(columns)  # whitelisted above
        raw = conn.connection.dbapi_connection
        if self.dialect == "duckdb":
            view = f"_bulk_{table}"
            raw.register(view, frame)
            try:
                raw.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {view}")  # noqa: S608
            finally:
                raw.unregister(view)
        else:
            # COPY's text format in blocks, not row by row: \N is NULL, so '' stays an empty string.
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({col_list}) FROM STDIN") as copy:
                for offset in range(0, len(frame), COPY_CHUNK_ROWS):
                    copy.write(_copy_text(frame.iloc[offset:offset + COPY_CHUNK_ROWS]))
        return len(frame)

    def bulk_columns(self, conn: Connection) -> dict[str, frozenset[str]]:
        """The bulk-insert whitelist: the warehouse's own base tables and their columns, read from the
        schema (on the caller's connection) the first time any process needs it. The audit trail is not
        in it: it is written only through queries.records.audit."""
        if self._bulk_columns is None:
            rows = conn.execute(text(load_sql("sql/table_columns"))).fetchall()
            tables: dict[str, set[str]] = {}
            for table, column in rows:
                tables.setdefault(str(table), set()).add(str(column))
            tables.pop("audit_log", None)
            self._bulk_columns = {t: frozenset(c) for t, c in tables.items()}
        return self._bulk_columns

    # -- schema ------------------------------------------------------------------------------
    def create_schema(self) -> None:
        with self.transaction() as conn:
            for statement in split_statements(SCHEMA_FILE.read_text()):
                conn.execute(text(statement))
            dialect_file = DIALECT_SCHEMA_FILES.get(self.dialect)
            if dialect_file is not None:
                for statement in split_statements(dialect_file.read_text()):
                    conn.exec_driver_sql(statement)  # raw DDL: no bind parameters
        self._bulk_columns = None  # the schema may have changed: read it again on the next bulk insert

    def is_empty(self) -> bool:
        try:
            return not self.scalar("sql/site_count")
        except WarehouseUnavailable:
            raise
        except Exception:
            return True

    def data_as_of(self) -> datetime | None:
        """Latest time any source wrote data (for the 'data as of' label)."""
        value = self.scalar("sql/data_as_of")
        return pd.Timestamp(value).to_pydatetime() if value is not None else None

    def dispose(self) -> None:
        self.engine.dispose()

    def _translate(self, exc: Exception) -> Exception:
        """Connection, lock, disk and timeout failures become WarehouseUnavailable (with the reason);
        anything else (a bug, a constraint) is returned unchanged."""
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        lowered = message.lower()
        unavailable = isinstance(exc, (OperationalError, InterfaceError)) or any(s in lowered for s in (
            "could not set lock", "connection refused", "could not connect", "read-only", "read only",
            "no space left", "unable to open", "server closed", "does not allow connections",
            "terminating connection", "disk full", "cannot open file"))
        if unavailable:
            return WarehouseUnavailable(f"warehouse {self.safe_url()} unavailable: {message}")
        return exc

    def safe_url(self) -> str:
        return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", self.url)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(frame: pd.DataFrame) -> str:
    """Rows in PostgreSQL COPY text format (tab-separated, \\N for NULL, backslash escapes)."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v: v.translate(_COPY_ESCAPES) if isinstance(v, str) else v)
    return frame.to_csv(index=False, header=False, sep="\t", na_rep="\\N", quoting=csv.QUOTE_NONE,
                        escapechar=None, date_format="%Y-%m-%d %H:%M:%S.%f", lineterminator="\n")

