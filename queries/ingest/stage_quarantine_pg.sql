-- PostgreSQL only: staging for the quarantined messages of one batch (payload: the raw bytes).
CREATE TEMP TABLE ingest_stage_quarantine (
    received_at TIMESTAMP NOT NULL, topic TEXT, payload BYTEA, reason TEXT NOT NULL
) ON COMMIT DROP
