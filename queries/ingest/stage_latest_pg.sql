-- PostgreSQL only: staging for the newest reading per sensor of one batch.
CREATE TEMP TABLE ingest_stage_latest (
    sensor_id TEXT NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE PRECISION NOT NULL, received_at TIMESTAMP NOT NULL
) ON COMMIT DROP
