"""Scale: data versions for cache invalidation, and the indexes large PostgreSQL warehouses need.

- data_versions: one token per data domain, replaced by every write (queries/engine/data_version.py).
- readings (ts): "data as of" (MAX(ts)) and the ingest engine's warm start read recent readings; without
  it both scan every reading (hundreds of millions at the large scale, beyond the statement timeout).
- reading_rollups (grain, bucket) with sensor_id and n: data completeness sums a window's hourly counts
  of every sensor from the index alone instead of reading the whole rollup table.

Revision ID: 0002_scale
Revises: 0001_initial
"""

from __future__ import annotations

from alembic import op

revision = "0002_scale"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE IF NOT EXISTS data_versions (
        domain TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        changed_at TIMESTAMP NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS readings_ts ON readings (ts)",
    "CREATE INDEX IF NOT EXISTS reading_rollups_grain_bucket ON reading_rollups (grain, bucket) INCLUDE (sensor_id, n)",
]


def upgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")  # index builds on big tables
    for statement in UPGRADE:
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("DROP INDEX IF EXISTS reading_rollups_grain_bucket")
    conn.exec_driver_sql("DROP INDEX IF EXISTS readings_ts")
    conn.exec_driver_sql("DROP TABLE IF EXISTS data_versions")
