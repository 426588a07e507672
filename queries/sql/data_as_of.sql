-- Latest moment any source wrote data: the "data as of" time shown on every page.
SELECT MAX(ts) AS as_of FROM (
    SELECT MAX(ts) AS ts FROM readings
    UNION ALL SELECT MAX(ts) FROM ingest_heartbeats
    UNION ALL SELECT MAX(detected_at) FROM deviations
    UNION ALL SELECT MAX(started_at) FROM batches
) latest
