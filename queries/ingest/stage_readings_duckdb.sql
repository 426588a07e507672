-- DuckDB only: a batch's readings as a temporary table, from one list per column ($name parameters).
-- (Much faster than scanning a registered DataFrame inside INSERT ... ON CONFLICT.)
CREATE OR REPLACE TEMP TABLE ingest_stage_readings AS
SELECT unnest($sensor_id::VARCHAR[]) AS sensor_id, unnest($ts::TIMESTAMP[]) AS ts,
       unnest($value::DOUBLE[]) AS value, unnest($msg_id::VARCHAR[]) AS msg_id
