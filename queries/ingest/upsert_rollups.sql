-- Adds the batch's new readings to the minute, hour and day rollups (n, mean, min, max per bucket).
INSERT INTO reading_rollups AS t (sensor_id, grain, bucket, n, value_mean, value_min, value_max)
SELECT sensor_id, grain, bucket, COUNT(*), AVG(value), MIN(value), MAX(value)
FROM (
    SELECT sensor_id, 'minute' AS grain, date_trunc('minute', ts) AS bucket, value FROM ingest_stage_new
    UNION ALL SELECT sensor_id, 'hour', date_trunc('hour', ts), value FROM ingest_stage_new
    UNION ALL SELECT sensor_id, 'day', date_trunc('day', ts), value FROM ingest_stage_new
) increments
GROUP BY sensor_id, grain, bucket
ON CONFLICT (sensor_id, grain, bucket) DO UPDATE SET
    n = t.n + excluded.n,
    value_mean = (t.value_mean * t.n + excluded.value_mean * excluded.n) / (t.n + excluded.n),
    value_min = LEAST(t.value_min, excluded.value_min),
    value_max = GREATEST(t.value_max, excluded.value_max)
