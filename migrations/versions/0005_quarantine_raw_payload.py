"""Quarantine keeps the raw payload bytes: `quarantine.payload` TEXT -> BYTEA.

A payload holding a NUL byte (a gateway publishing a C string buffer) could not be quarantined on
PostgreSQL (text cannot hold 0x00): the message was neither stored nor quarantined, never
acknowledged, and a burst of them filled the broker's in-flight window and stopped all ingest
(issue 27). Rows already quarantined keep their text as its UTF-8 bytes. Idempotent: a database
created by create_schema() already has BYTEA and is left alone.

Downgrade turns the bytes back into text with PostgreSQL's `escape` encoding (NUL and non-ASCII bytes
as \\nnn octal escapes), so nothing is refused on the way back.

Revision ID: 0005_quarantine_raw_payload
Revises: 0004_deviation_proposals
"""

from __future__ import annotations

from alembic import op

revision = "0005_quarantine_raw_payload"
down_revision = "0004_deviation_proposals"
branch_labels = None
depends_on = None

_PAYLOAD_TYPE = """(SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema()
                    AND table_name = 'quarantine' AND column_name = 'payload')"""

UPGRADE = f"""
DO $$
BEGIN
    IF {_PAYLOAD_TYPE} = 'text' THEN
        ALTER TABLE quarantine ALTER COLUMN payload TYPE BYTEA USING convert_to(payload, 'UTF8');
    END IF;
END
$$
"""

DOWNGRADE = f"""
DO $$
BEGIN
    IF {_PAYLOAD_TYPE} = 'bytea' THEN
        ALTER TABLE quarantine ALTER COLUMN payload TYPE TEXT USING encode(payload, 'escape');
    END IF;
END
$$
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
