-- Daily rollups of one staged chunk of whole sensors: the statement of rollups_day.sql, on the chunk.
INSERT INTO reading_rollups (sensor_id, grain, bucket, n, value_mean, value_min, value_max)
SELECT sensor_id, 'day', date_trunc('day', ts), COUNT(*),
       CAST(AVG(value) AS DECIMAL(18, 6)), MIN(value), MAX(value)
FROM sample_stage_readings
GROUP BY sensor_id, date_trunc('day', ts)
