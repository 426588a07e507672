"""Notifications (issue 12): rules, the transactional outbox, every delivery attempt, the system alarms,
the remote acknowledgement links, the on-call shifts and users' e-mail addresses (notify/,
queries/notifications/).

Idempotent: a database created by create_schema() already has the tables and is left as it is.

Revision ID: 0007_notifications
Revises: 0006_sensor_effective_limits
"""

from __future__ import annotations

from alembic import op

revision = "0007_notifications"
down_revision = "0006_sensor_effective_limits"
branch_labels = None
depends_on = None

TABLES = ("notification_rules", "notification_outbox", "notification_attempts", "system_alarms", "ack_links",
          "on_call_shifts")
UPGRADE = [
    "ALTER TABLE users ADD COLUMN IF NOT EXISTS email TEXT",
    """
    CREATE TABLE IF NOT EXISTS on_call_shifts (
        shift_id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL,
        days TEXT NOT NULL,
        starts TEXT NOT NULL,
        ends TEXT NOT NULL,
        recipient TEXT NOT NULL,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        created_by TEXT NOT NULL,
        created_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS ack_links (
        token_hash TEXT PRIMARY KEY,
        excursion_id TEXT NOT NULL,
        notification_id TEXT NOT NULL,
        recipient TEXT NOT NULL,
        created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL,
        used_at TIMESTAMP,
        used_by TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS system_alarms (
        alarm_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('sensor_silent', 'ingest_stopped', 'audit_chain', 'delivery_failing')),
        subject TEXT NOT NULL,
        site_id TEXT,
        detail TEXT NOT NULL,
        raised_at TIMESTAMP NOT NULL,
        cleared_at TIMESTAMP
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS notification_rules (
        rule_id TEXT PRIMARY KEY,
        event TEXT NOT NULL CHECK (event IN ('excursion_action', 'excursion_alert', 'import_rejected')),
        site_id TEXT,                        -- NULL: every site
        room_id TEXT,                        -- NULL: every room (excursions only)
        grade TEXT,                          -- NULL: every cleanroom grade (excursions only)
        parameter TEXT,                      -- NULL: every parameter (excursions only)
        channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
        recipient TEXT NOT NULL,             -- an e-mail address, or a webhook's https:// URL
        delay_s INTEGER NOT NULL DEFAULT 0,
        repeat_every_s INTEGER NOT NULL DEFAULT 0,
        repeat_max INTEGER NOT NULL DEFAULT 0,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        created_by TEXT NOT NULL,
        created_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS notification_outbox (
        notification_id TEXT PRIMARY KEY,
        event TEXT NOT NULL,
        event_id TEXT NOT NULL,              -- the excursion id, or the rejected file's name
        site_id TEXT,
        rule_id TEXT NOT NULL,
        repeat_no INTEGER NOT NULL,          -- 0 the first message, 1.. the repeats
        channel TEXT NOT NULL,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TIMESTAMP NOT NULL,
        due_at TIMESTAMP NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'printed', 'cancelled')),
        next_attempt_at TIMESTAMP NOT NULL,
        claimed_until TIMESTAMP,             -- a dispatcher's lease while sending; past it, another may take over
        attempts INTEGER NOT NULL DEFAULT 0,
        finished_at TIMESTAMP,
        last_response TEXT                   -- the server's reply, the error, or why it was cancelled
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS notification_attempts (
        notification_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        attempted_at TIMESTAMP NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'printed', 'failed', 'interrupted')),
        response TEXT NOT NULL,
        PRIMARY KEY (notification_id, attempt)
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS notification_outbox_due ON notification_outbox (status, next_attempt_at)
    """,
]


def upgrade() -> None:
    conn = op.get_bind()
    for statement in UPGRADE:
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    conn = op.get_bind()
    for table in reversed(TABLES):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    conn.exec_driver_sql("ALTER TABLE users DROP COLUMN IF EXISTS email")
