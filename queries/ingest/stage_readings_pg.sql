-- PostgreSQL only: the per-transaction staging table a batch of readings is copied into.
CREATE TEMP TABLE ingest_stage_readings (
    sensor_id TEXT NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE PRECISION NOT NULL, msg_id TEXT NOT NULL
) ON COMMIT DROP
