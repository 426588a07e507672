-- Benchmarks only: every raw reading with a small integer sensor code, for the in-memory pandas baseline.
SELECT CAST(c.code AS SMALLINT) AS code, r.ts, r.value
FROM readings r
JOIN (SELECT sensor_id, ROW_NUMBER() OVER (ORDER BY sensor_id) AS code FROM sensors) c ON c.sensor_id = r.sensor_id
