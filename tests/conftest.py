"""Shared fixtures: real warehouses (a DuckDB file, a throwaway PostgreSQL database), apps, clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from queries.warehouse import Warehouse

PG_ADMIN_URL = os.environ.get("ATMP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
OUTPUT_DIR = Path(os.environ.get("ATMP_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))
# A fixed 'now' so every window in the tests is reproducible.
TEST_END = datetime(2026, 6, 1)


def _pg_admin():
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no server: a failure, never a silent skip (make test starts one)
        engine.dispose()
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({exc.__class__.__name__}); "
                    "run `make test`, which installs and starts it", pytrace=False)
    return engine


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    admin = _pg_admin()
    name = f"atmp_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def make_warehouse(kind: str, tmp_path: Path) -> Iterator[Warehouse]:
    """An empty warehouse with the schema created: 'duckdb' (a file) or 'postgres' (a new database)."""
    if kind == "duckdb":
        wh = Warehouse(f"duckdb:///{tmp_path / f'wh-{uuid.uuid4().hex[:8]}.duckdb'}")
        wh.create_schema()
        try:
            yield wh
        finally:
            wh.dispose()
    elif kind == "postgres":
        with throwaway_postgres() as url:
            wh = Warehouse(url)
            wh.create_schema()
            try:
                yield wh
            finally:
                wh.dispose()
    else:
        raise ValueError(kind)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path) -> Iterator[Warehouse]:
    """The same test against a DuckDB file and a throwaway PostgreSQL database."""
    with make_warehouse(request.param, tmp_path) as wh:
        yield wh


@pytest.fixture
def duckdb_warehouse(tmp_path) -> Iterator[Warehouse]:
    with make_warehouse("duckdb", tmp_path) as wh:
        yield wh


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where screenshots and other artefacts of the run go (test-output/, ignored by git)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR
