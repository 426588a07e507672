-- KPI data_completeness: readings received (hourly rollup counts) / readings expected from each
-- sensor's sampling interval since it was installed. Each sensor counts at most what it should have
-- sent, so a chatty sensor cannot hide a silent one.
WITH expected AS (
    SELECT sensor_id, site_id,
           GREATEST(EXTRACT(EPOCH FROM (CAST(:end AS TIMESTAMP) - GREATEST(CAST(:start AS TIMESTAMP), installed_at))), 0)
               / interval_s AS readings
    FROM sensors
),
received AS (
    SELECT sensor_id, SUM(n) AS readings
    FROM reading_rollups
    WHERE grain = 'hour' AND bucket >= :start AND bucket < :end
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
