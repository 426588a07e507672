-- PostgreSQL only: staging for the rollup increments of one batch.
CREATE TEMP TABLE ingest_stage_rollups (
    sensor_id TEXT NOT NULL, grain TEXT NOT NULL, bucket TIMESTAMP NOT NULL, n INTEGER NOT NULL,
    value_mean DOUBLE PRECISION NOT NULL, value_min DOUBLE PRECISION NOT NULL, value_max DOUBLE PRECISION NOT NULL
) ON COMMIT DROP
