"""Deviation proposals: what an action-level excursion proposes is kept apart from `deviations` until a
person confirms it (it counted in MTTD, recurrence and the deviation rate at once before).

Proposals written by earlier versions into `deviations` (recognised by the text the ingest wrote,
"Proposed from action-level excursion ...", and no CAPA) move to the new table, undecided.

Revision ID: 0004_deviation_proposals
Revises: 0003_capa_decisions
"""

from __future__ import annotations

from alembic import op

revision = "0004_deviation_proposals"
down_revision = "0003_capa_decisions"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE IF NOT EXISTS deviation_proposals (
        deviation_id TEXT PRIMARY KEY,
        excursion_id TEXT NOT NULL,
        site_id TEXT NOT NULL,
        batch_id TEXT,
        occurred_at TIMESTAMP NOT NULL,
        detected_at TIMESTAMP NOT NULL,
        severity TEXT NOT NULL,
        category TEXT NOT NULL,
        root_cause_code TEXT NOT NULL,
        sop_id TEXT,
        description TEXT NOT NULL,
        decision TEXT CHECK (decision IN ('confirmed', 'rejected')),
        decided_by TEXT,
        decided_at TIMESTAMP
    )
    """,
    """
    INSERT INTO deviation_proposals (deviation_id, excursion_id, site_id, batch_id, occurred_at, detected_at,
                                     severity, category, root_cause_code, sop_id, description)
    SELECT d.deviation_id, d.excursion_id, d.site_id, d.batch_id, d.occurred_at, d.detected_at, d.severity,
           d.category, d.root_cause_code, d.sop_id, d.description
    FROM deviations d
    WHERE d.source = 'excursion' AND d.excursion_id IS NOT NULL
      AND strpos(d.description, 'Proposed from action-level excursion ') = 1
      AND NOT EXISTS (SELECT 1 FROM capas c WHERE c.deviation_id = d.deviation_id)
    ON CONFLICT (deviation_id) DO NOTHING
    """,
    """
    DELETE FROM deviations d
    WHERE d.deviation_id IN (SELECT deviation_id FROM deviation_proposals WHERE decision IS NULL)
    """,
]


def upgrade() -> None:
    conn = op.get_bind()
    for statement in UPGRADE:
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("DROP TABLE IF EXISTS deviation_proposals")
