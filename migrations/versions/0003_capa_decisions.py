"""CAPA proposal decisions: the signed QA review of each proactive CAPA proposal (queries/analyses/proposals.py),
kept as signed (UPDATE, DELETE and TRUNCATE refused by triggers, like the audit trail).

Also readings (sensor_id, ts): the ingest engine reads a sensor's recent readings when it starts and when a
very late reading arrives; without it each such read scans the table (docs/monitoring.md). PostgreSQL only,
like 0002's indexes (on DuckDB an index over hundreds of millions of history rows costs more than it saves).

Revision ID: 0003_capa_decisions
Revises: 0002_scale
"""

from __future__ import annotations

from alembic import op

revision = "0003_capa_decisions"
down_revision = "0002_scale"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE IF NOT EXISTS capa_proposal_decisions (
        proposal_id TEXT PRIMARY KEY,
        site_ids TEXT NOT NULL,
        source TEXT NOT NULL,
        signal TEXT NOT NULL,
        evidence TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('accepted', 'dismissed')),
        capa_ref TEXT,
        reason TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        decided_at TIMESTAMP NOT NULL,
        record_sha256 TEXT NOT NULL
    )
    """,
    """
    CREATE OR REPLACE FUNCTION capa_decision_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING MESSAGE = 'capa_proposal_decisions are signed records: ' || TG_OP || ' refused',
                              ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS capa_decisions_unchanged ON capa_proposal_decisions",
    """
    CREATE TRIGGER capa_decisions_unchanged BEFORE UPDATE OR DELETE ON capa_proposal_decisions
        FOR EACH ROW EXECUTE FUNCTION capa_decision_refuse_change()
    """,
    "DROP TRIGGER IF EXISTS capa_decisions_no_truncate ON capa_proposal_decisions",
    """
    CREATE TRIGGER capa_decisions_no_truncate BEFORE TRUNCATE ON capa_proposal_decisions
        FOR EACH STATEMENT EXECUTE FUNCTION capa_decision_refuse_change()
    """,
    "CREATE INDEX IF NOT EXISTS readings_sensor_ts ON readings (sensor_id, ts)",
]


def upgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")  # the index build on a big table
    for statement in UPGRADE:
        conn.exec_driver_sql(statement)  # raw DDL: no bind parameters


def downgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("DROP INDEX IF EXISTS readings_sensor_ts")
    conn.exec_driver_sql("DROP TABLE IF EXISTS capa_proposal_decisions")
    conn.exec_driver_sql("DROP FUNCTION IF EXISTS capa_decision_refuse_change()")
