-- Benchmarks only, the raw-scan baseline of data_completeness: the same KPI counting raw readings
-- (no rollups). Must give the same numbers as queries/metrics/data_completeness.sql.
WITH expected AS (
    SELECT sensor_id, site_id,
           GREATEST(EXTRACT(EPOCH FROM (CAST(:end AS TIMESTAMP) - GREATEST(CAST(:start AS TIMESTAMP), installed_at))), 0)
               / interval_s AS readings
    FROM sensors
),
received AS (
    SELECT sensor_id, COUNT(*) AS readings
    FROM readings
    WHERE ts >= :start AND ts < :end
    GROUP BY sensor_id
),
per_sensor AS (
    SELECT e.site_id, LEAST(COALESCE(r.readings, 0), FLOOR(e.readings)) AS received,
           FLOOR(e.readings) AS expected
    FROM expected e LEFT JOIN received r ON r.sensor_id = e.sensor_id
    WHERE e.readings >= 1
)
SELECT site_id,
       100.0 * SUM(received) / NULLIF(SUM(expected), 0) AS value,
       SUM(expected) AS n,
       SUM(received) AS numerator,
       SUM(expected) AS denominator
FROM per_sensor
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
