-- Benchmarks only: the measurements version counts as old, so the load test's first live write changes it
-- (every KPI that counts readings recomputed during the run, as happens every 5 minutes under ingest).
UPDATE data_versions SET changed_at = :long_ago WHERE domain = 'measurements'
