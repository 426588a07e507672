-- PostgreSQL only: staging table for one chunk of generated readings (sample_data/bulk_readings.py).
CREATE TEMP TABLE sample_stage_readings (
    sensor_id TEXT NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE PRECISION NOT NULL
) ON COMMIT DROP
