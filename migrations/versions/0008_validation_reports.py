"""Validation reports (issue 13): each report `atmp-hub validate` registers, by its files' SHA-256, and the
signatures on it (reviewed, approved), kept as registered and signed (UPDATE and DELETE refused by triggers).

Idempotent: a database created by create_schema() already has the tables and is left as it is.

Revision ID: 0008_validation_reports
Revises: 0007_notifications
"""

from __future__ import annotations

from alembic import op

revision = "0008_validation_reports"
down_revision = "0007_notifications"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE IF NOT EXISTS validation_reports (
        report_id TEXT PRIMARY KEY,
        created_at TIMESTAMP NOT NULL,
        registered_at TIMESTAMP NOT NULL,
        registered_by TEXT NOT NULL,
        report_dir TEXT NOT NULL,
        json_sha256 TEXT NOT NULL,
        pdf_sha256 TEXT NOT NULL,
        verdict TEXT NOT NULL,
        deviations INTEGER NOT NULL,
        requirements INTEGER NOT NULL,
        verified INTEGER NOT NULL,
        verifiable INTEGER NOT NULL,
        git_commit TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS validation_signatures (
        report_id TEXT NOT NULL REFERENCES validation_reports (report_id),
        meaning TEXT NOT NULL CHECK (meaning IN ('reviewed', 'approved')),
        signed_by TEXT NOT NULL,
        signed_at TIMESTAMP NOT NULL,
        json_sha256 TEXT NOT NULL,
        comment TEXT NOT NULL,
        PRIMARY KEY (report_id, meaning)
    )
    """,
    """
    CREATE OR REPLACE FUNCTION validation_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' are signed records: ' || TG_OP || ' refused',
                              ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS validation_reports_unchanged ON validation_reports",
    """
    CREATE TRIGGER validation_reports_unchanged BEFORE UPDATE OR DELETE ON validation_reports
        FOR EACH ROW EXECUTE FUNCTION validation_refuse_change()
    """,
    "DROP TRIGGER IF EXISTS validation_signatures_unchanged ON validation_signatures",
    """
    CREATE TRIGGER validation_signatures_unchanged BEFORE UPDATE OR DELETE ON validation_signatures
        FOR EACH ROW EXECUTE FUNCTION validation_refuse_change()
    """,
]


def upgrade() -> None:
    conn = op.get_bind()
    for statement in UPGRADE:
        conn.exec_driver_sql(statement)  # raw DDL: no bind parameters


def downgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("DROP TABLE IF EXISTS validation_signatures")
    conn.exec_driver_sql("DROP TABLE IF EXISTS validation_reports")
    conn.exec_driver_sql("DROP FUNCTION IF EXISTS validation_refuse_change()")
