"""The one path every statement takes (queries/engine/warehouse.py): the row cap and the time limit hold for reads
made by `query` and inside a transaction by `fetch`, on both engines."""

from __future__ import annotations

import time

import pytest
from conftest import make_warehouse

from queries.engine.sql_files import add_tool_sql_dir, load_sql
from queries.engine.warehouse import QueryError, Warehouse

# A read that runs for minutes on either engine: a cross join counted row by row.
SLOW = "SELECT COUNT(*) AS n FROM generate_series(1, 100000) t1(x), generate_series(1, 100000) t2(y) WHERE x + y > 0"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def limited(request, tmp_path):
    """A warehouse whose statements may run 300 ms and return 5 rows."""
    with make_warehouse(request.param, tmp_path) as wh:
        yield Warehouse(wh.url, row_cap=5, statement_timeout_ms=300)


def test_a_read_past_the_time_limit_is_stopped_and_the_next_one_runs(limited):
    started = time.monotonic()
    with pytest.raises(Exception, match="statement timeout") as stopped:
        limited.query("test/slow", sql=SLOW)
    assert time.monotonic() - started < 10, "the query was not stopped near its limit"
    if limited.dialect == "duckdb":
        assert isinstance(stopped.value, QueryError) and "test/slow" in str(stopped.value)
    # The connection the interrupted query used is not handed to the next one in a broken state.
    for _ in range(3):
        assert limited.query("test/one", sql="SELECT 1 AS one")["one"].tolist() == [1]
    limited.dispose()


def test_the_row_cap_holds_for_reads_inside_a_transaction(limited):
    from queries.records import audit

    with pytest.raises(QueryError, match="more than 5 rows"):
        limited.query("test/rows", sql="SELECT * FROM generate_series(1, 6) t(n)")
    with pytest.raises(QueryError, match="more than 5 rows"), limited.transaction() as conn:
        for i in range(6):  # six audit entries, seen by a read in the same transaction (the cap is 5)
            audit.append(limited, user_id="t.admin", action="test_entry", object_type="test", object_id=str(i),
                         conn=conn)
        assert len(limited.fetch(conn, "sql/site_ids")) == 0
        limited.fetch(conn, "sql/audit_all")
    assert limited.query("sql/audit_all").empty, "the transaction rolled back with the refusal"
    limited.dispose()


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_every_importable_column_has_a_declared_reading(kind, tmp_path):
    """The importer reads a cell by an explicit map of the types each engine reports (no guessing from
    substrings); every column of every importable table is in it, and a type outside it is refused."""
    from queries.imports.importer import IMPORTABLE, column_kind, convert, table_columns

    with make_warehouse(kind, tmp_path) as wh:
        kinds = {row.data_type: column_kind(row.data_type)[0]
                 for table in sorted(IMPORTABLE) for row in table_columns(wh, table).itertuples()}
    assert {"integer", "number", "boolean", "timestamp", "date", "text"} >= set(kinds.values())
    assert "timestamp" in kinds.values() and "text" in kinds.values()
    assert convert("7", "SMALLINT") == (7, None) and convert("40000", "smallint")[1] == "'40000' is outside the 16-bit integer range"
    assert convert("2.5", "DECIMAL(18,6)") == (2.5, None)
    with pytest.raises(QueryError, match="cannot be imported"):
        convert("x", "INTERVAL")


def test_queries_are_read_by_name_inside_their_folders_only(tmp_path):
    """A name never reaches a file outside queries/ or a tool's SQL folder; a tool cannot take over a
    folder of queries/; a tool's queries (the tests' own, tests/sql/) are read under its prefix."""
    assert "count(*)" in load_sql("test/near_miss_count").lower()
    assert "GROUP BY ROLLUP" in load_sql("metrics/mttd").upper()
    for name in ("../app", "metrics/../../app", "test/../conftest", "test/../../queries/schema", "no_such/query"):
        with pytest.raises(QueryError, match="unknown query"):
            load_sql(name)
    with pytest.raises(ValueError, match="folder of queries"):
        add_tool_sql_dir("metrics", tmp_path)
