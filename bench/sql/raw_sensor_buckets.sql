-- Benchmarks only, the raw-scan baseline of a sensor trend: buckets computed from raw readings.
SELECT date_trunc(:grain, ts) AS bucket, COUNT(*) AS n, AVG(value) AS value_mean,
       MIN(value) AS value_min, MAX(value) AS value_max
FROM readings
WHERE sensor_id = :sensor_id AND ts >= :since AND ts < :until
  AND sensor_id IN (SELECT sensor_id FROM sensors WHERE site_id IN :sites)
GROUP BY date_trunc(:grain, ts)
ORDER BY bucket
