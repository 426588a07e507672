-- DuckDB only: a batch's rejected messages as a temporary table (payload: the raw bytes).
CREATE OR REPLACE TEMP TABLE ingest_stage_quarantine AS
SELECT unnest($received_at::TIMESTAMP[]) AS received_at, unnest($topic::VARCHAR[]) AS topic,
       unnest($payload::BLOB[]) AS payload, unnest($reason::VARCHAR[]) AS reason
