"""Alembic environment: migrates the PostgreSQL warehouse named by ATMP_DATABASE_URL.

The URL comes from the hub's settings (or `config.attributes["url"]` when called from Python, as the
benchmark and the tests do). DuckDB warehouses are refused: they keep `Warehouse.create_schema()`.
Migrations run with no statement timeout (an index on a large table takes minutes)."""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine

from queries.engine.settings import Settings

config = context.config
if config.config_file_name is not None and not config.attributes.get("url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def database_url() -> str:
    url = config.attributes.get("url") or Settings.from_env().database_url
    if not url.startswith("postgresql"):
        raise SystemExit(f"Alembic migrates the PostgreSQL warehouse only; ATMP_DATABASE_URL is {url.split(':')[0]}:"
                         " (DuckDB files are created by `atmp-hub generate` / Warehouse.create_schema())")
    return url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url(), connect_args={"options": "-c statement_timeout=0 -c timezone=UTC"})
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
