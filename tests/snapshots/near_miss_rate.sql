-- KPI near_miss_rate: near misses reported in the window per 100 batches started in the window.
WITH events AS (
    SELECT site_id, 1 AS near_miss, 0 AS batch FROM near_misses
    WHERE reported_at >= :start AND reported_at < :end
    UNION ALL
    SELECT site_id, 0, 1 FROM batches
    WHERE started_at >= :start AND started_at < :end
)
SELECT site_id,
       100.0 * SUM(near_miss) / NULLIF(SUM(batch), 0) AS value,
       SUM(batch) AS n,
       SUM(near_miss) AS numerator,
       SUM(batch) AS denominator
FROM events
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
