-- DuckDB only: a batch's rejected messages as a temporary table.
CREATE OR REPLACE TEMP TABLE ingest_stage_quarantine AS
SELECT unnest($received_at::TIMESTAMP[]) AS received_at, unnest($topic::VARCHAR[]) AS topic,
       unnest($payload::VARCHAR[]) AS payload, unnest($reason::VARCHAR[]) AS reason
