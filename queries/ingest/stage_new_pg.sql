-- PostgreSQL only: the readings of a batch that were actually inserted (rollups and latest values).
CREATE TEMP TABLE ingest_stage_new (
    sensor_id TEXT NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE PRECISION NOT NULL
) ON COMMIT DROP
