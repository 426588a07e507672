"""Benchmarks of the hub at network scale (`make bench`) and the wall-display load test (`make load`).

The benchmark's own reads (raw tables for its pandas baseline, counters) are in bench/sql/, outside the
runtime package, and read as "bench/<name>" like any query."""

from pathlib import Path

from queries.engine.sql_files import add_tool_sql_dir

add_tool_sql_dir("bench", Path(__file__).resolve().parent / "sql")
