-- PostgreSQL only: staging for the quarantined messages of one batch.
CREATE TEMP TABLE ingest_stage_quarantine (
    received_at TIMESTAMP NOT NULL, topic TEXT, payload TEXT, reason TEXT NOT NULL
) ON COMMIT DROP
