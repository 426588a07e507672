"""View `sensor_effective_limits`: a sensor's effective limits (the room's own row, else the grade default),
declared once in the schema instead of in each query that needs it (issue 29). Idempotent: CREATE OR
REPLACE, so a database created by create_schema() is left as it is.

Revision ID: 0006_sensor_effective_limits
Revises: 0005_quarantine_raw_payload
"""

from __future__ import annotations

from alembic import op

revision = "0006_sensor_effective_limits"
down_revision = "0005_quarantine_raw_payload"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE OR REPLACE VIEW sensor_effective_limits AS
SELECT s.sensor_id, l.alert_low, l.alert_high, l.action_low, l.action_high,
       l.alert_delay_s, l.action_delay_s, l.hysteresis, l.basis
FROM sensors s
JOIN rooms r ON r.room_id = s.room_id
LEFT JOIN limits l
       ON l.parameter = s.parameter AND l.grade = r.grade
      AND l.room_id = CASE WHEN EXISTS (SELECT 1 FROM limits o
                                        WHERE o.parameter = s.parameter AND o.grade = r.grade
                                          AND o.room_id = s.room_id)
                           THEN s.room_id ELSE '*' END
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql("DROP VIEW IF EXISTS sensor_effective_limits")
