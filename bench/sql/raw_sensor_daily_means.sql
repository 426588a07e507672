-- Benchmarks only, the raw-scan baseline of sql/signals/sensor_daily_means: daily means from raw readings.
SELECT r.sensor_id, s.site_id, s.parameter, date_trunc('day', r.ts) AS day, COUNT(*) AS n,
       AVG(r.value) AS value_mean
FROM readings r
JOIN sensors s ON s.sensor_id = r.sensor_id
WHERE s.site_id IN :sites AND r.ts >= :start AND r.ts < :end
GROUP BY r.sensor_id, s.site_id, s.parameter, date_trunc('day', r.ts)
ORDER BY r.sensor_id, day
