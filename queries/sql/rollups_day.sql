-- Daily rollups rebuilt from every raw reading (after a bulk history load into empty tables).
-- Ordered by sensor so each sensor's buckets sit together: DuckDB's zone maps then skip the rest of
-- the table when one sensor's trend is read (a full scan otherwise: 15 ms at 21 sites, 5 ms from raw).
-- Means are rounded to 6 decimals so parallel aggregation gives the same bytes on every run.
INSERT INTO reading_rollups (sensor_id, grain, bucket, n, value_mean, value_min, value_max)
SELECT sensor_id, 'day', date_trunc('day', ts), COUNT(*),
       CAST(AVG(value) AS DECIMAL(18, 6)), MIN(value), MAX(value)
FROM readings
GROUP BY sensor_id, date_trunc('day', ts)
ORDER BY sensor_id, date_trunc('day', ts)
