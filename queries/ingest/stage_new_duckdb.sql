-- DuckDB only: the readings of a batch that were actually inserted (rollups and latest values).
CREATE OR REPLACE TEMP TABLE ingest_stage_new AS
SELECT unnest($sensor_id::VARCHAR[]) AS sensor_id, unnest($ts::TIMESTAMP[]) AS ts,
       unnest($value::DOUBLE[]) AS value
