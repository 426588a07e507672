"""Bring a warehouse's schema up to date: Alembic for PostgreSQL, create_schema() for DuckDB files."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from queries.engine.warehouse import Warehouse

logger = logging.getLogger(__name__)

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def alembic_config(url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = url  # migrations/env.py takes it before ATMP_DATABASE_URL
    return config


def upgrade(wh: Warehouse, revision: str = "head") -> None:
    """PostgreSQL: `alembic upgrade` (idempotent revisions, so a create_schema() database upgrades too);
    then, on both engines, create_schema(), which is a no-op on an up-to-date schema and loads the
    bulk-insert column whitelist."""
    if wh.dialect == "postgresql":
        command.upgrade(alembic_config(wh.url), revision)
        logger.info("alembic upgrade %s: %s", revision, wh.safe_url())
    wh.create_schema()
