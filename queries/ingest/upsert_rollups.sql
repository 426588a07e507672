-- Adds a batch's per-bucket increments (n, mean, min, max) to the minute, hour and day rollups.
INSERT INTO reading_rollups AS t (sensor_id, grain, bucket, n, value_mean, value_min, value_max)
SELECT sensor_id, grain, bucket, n, value_mean, value_min, value_max FROM ingest_stage_rollups
ON CONFLICT (sensor_id, grain, bucket) DO UPDATE SET
    n = t.n + excluded.n,
    value_mean = (t.value_mean * t.n + excluded.value_mean * excluded.n) / (t.n + excluded.n),
    value_min = LEAST(t.value_min, excluded.value_min),
    value_max = GREATEST(t.value_max, excluded.value_max)
