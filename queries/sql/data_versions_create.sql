-- The data version of each domain (queries/engine/data_version.py); also in schema.sql and the Alembic history.
CREATE TABLE IF NOT EXISTS data_versions (
    domain TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
)
