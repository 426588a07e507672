"""Alembic: the migrated PostgreSQL schema is the schema create_schema() builds, plus the scale indexes."""

from __future__ import annotations

import pandas as pd
import pytest
from alembic import command
from conftest import throwaway_postgres
from sqlalchemy import text

from queries.engine import migrate
from queries.engine.warehouse import Warehouse

pytestmark = pytest.mark.postgres

COLUMNS = """SELECT table_name, column_name, data_type, is_nullable, column_default
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'alembic_version'
             ORDER BY table_name, column_name"""
INDEXES = """SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
             AND tablename <> 'alembic_version' ORDER BY tablename, indexname"""
OTHER = """SELECT 'trigger' AS kind, tgname AS name FROM pg_trigger WHERE NOT tgisinternal
           UNION ALL SELECT 'view', viewname FROM pg_views WHERE schemaname = 'public'
           UNION ALL SELECT 'sequence', sequencename FROM pg_sequences WHERE schemaname = 'public'
           ORDER BY 1, 2"""
# Indexes only the migrations add (queries large PostgreSQL warehouses need; DuckDB does without).
MIGRATION_ONLY_INDEXES = {"readings_ts", "reading_rollups_grain_bucket", "readings_sensor_ts"}


def catalog(wh: Warehouse, sql: str) -> pd.DataFrame:
    with wh.engine.connect() as conn:
        return pd.read_sql(sql, conn)


def test_alembic_head_equals_create_schema_plus_the_scale_indexes():
    with throwaway_postgres() as migrated_url, throwaway_postgres() as created_url:
        migrated, created = Warehouse(migrated_url), Warehouse(created_url)
        try:
            command.upgrade(migrate.alembic_config(migrated_url), "head")
            created.create_schema()
            assert catalog(migrated, COLUMNS).equals(catalog(created, COLUMNS)), \
                "schema.sql changed without a migration (add a revision under migrations/versions/)"
            assert catalog(migrated, OTHER).equals(catalog(created, OTHER))
            m, c = catalog(migrated, INDEXES), catalog(created, INDEXES)
            assert set(m.indexname) - set(c.indexname) == MIGRATION_ONLY_INDEXES
            assert set(c.indexname) <= set(m.indexname)
        finally:
            migrated.dispose()
            created.dispose()


def test_a_create_schema_database_upgrades_in_place_and_downgrade_removes_everything():
    with throwaway_postgres() as url:
        wh = Warehouse(url)
        try:
            wh.create_schema()  # as `atmp-hub generate` made PostgreSQL warehouses before Alembic
            migrate.upgrade(wh)  # idempotent revisions: no error, indexes added, revision stamped
            with wh.engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0008_validation_reports"
            assert MIGRATION_ONLY_INDEXES <= set(catalog(wh, INDEXES).indexname)
            command.downgrade(migrate.alembic_config(url), "base")
            left = catalog(wh, COLUMNS)
            assert left.empty, sorted(set(left.table_name))
        finally:
            wh.dispose()


def test_duckdb_urls_are_refused_by_alembic(tmp_path):
    with pytest.raises(SystemExit, match="PostgreSQL warehouse only"):
        command.upgrade(migrate.alembic_config(f"duckdb:///{tmp_path / 'x.duckdb'}"), "head")


def test_0004_moves_unreviewed_excursion_proposals_out_of_the_deviations():
    """Before 0004 the ingest wrote proposals into `deviations`, where they counted in the KPIs."""
    insert = """INSERT INTO deviations (deviation_id, site_id, occurred_at, detected_at, severity, category,
                                        root_cause_code, source, excursion_id, description)
                VALUES (:id, 'CHI', '2026-05-01 10:00', '2026-05-01 10:05', 'major', 'environment', 'ENV-HVAC',
                        :source, :exc, :text)"""
    with throwaway_postgres() as url:
        wh = Warehouse(url)
        try:
            command.upgrade(migrate.alembic_config(url), "0003_capa_decisions")
            with wh.engine.begin() as conn:
                for row in (
                    {"id": "DEV-1", "source": "excursion", "exc": "EXC-1",
                     "text": "Proposed from action-level excursion EXC-1: temperature in CHI-B1, peak 22.6."},
                    {"id": "DEV-2", "source": "excursion", "exc": "EXC-2",
                     "text": "Proposed from action-level excursion EXC-2: with a CAPA, so a person acted on it."},
                    {"id": "DEV-3", "source": "operator", "exc": None, "text": "Gowning error"},
                ):
                    conn.execute(text(insert), row)
                conn.execute(text("INSERT INTO capas (capa_id, deviation_id, site_id, opened_at, due_at) VALUES "
                                  "('CAPA-2', 'DEV-2', 'CHI', '2026-05-02', '2026-06-02')"))
            command.upgrade(migrate.alembic_config(url), "head")
            kept = catalog(wh, "SELECT deviation_id FROM deviations ORDER BY 1")
            moved = catalog(wh, "SELECT deviation_id, excursion_id, decision FROM deviation_proposals")
            assert list(kept.deviation_id) == ["DEV-2", "DEV-3"]
            assert moved.to_dict("records") == [{"deviation_id": "DEV-1", "excursion_id": "EXC-1", "decision": None}]
        finally:
            wh.dispose()


def test_0005_keeps_quarantined_text_as_its_bytes_and_takes_any_bytes_afterwards():
    """Before 0005 quarantine.payload was TEXT, which cannot hold a NUL byte (issue 27)."""
    with throwaway_postgres() as url:
        wh = Warehouse(url)
        try:
            command.upgrade(migrate.alembic_config(url), "0004_deviation_proposals")
            with wh.engine.begin() as conn:
                conn.execute(text("INSERT INTO quarantine (received_at, topic, payload, reason) VALUES "
                                  "('2026-05-01 10:00', 't', :p, 'malformed_json: x')"), {"p": "{oops é"})
            command.upgrade(migrate.alembic_config(url), "head")
            with wh.engine.begin() as conn:
                conn.execute(text("INSERT INTO quarantine (received_at, topic, payload, reason) VALUES "
                                  "('2026-05-01 10:01', 't', :p, 'malformed_json: y')"), {"p": b"{\x00\xff}"})
                stored = [bytes(r[0]) for r in conn.execute(text("SELECT payload FROM quarantine "
                                                                 "ORDER BY quarantine_id"))]
            assert stored == ["{oops é".encode(), b"{\x00\xff}"]
            command.downgrade(migrate.alembic_config(url), "0004_deviation_proposals")
            with wh.engine.connect() as conn:
                assert conn.execute(text("SELECT payload FROM quarantine ORDER BY quarantine_id")).scalars().all() \
                    == ["{oops \\303\\251", "{\\000\\377}"]
        finally:
            wh.dispose()
