-- KPI closure_time: median days from detection to closure, deviations closed in the window.
WITH d AS (
    SELECT site_id, EXTRACT(EPOCH FROM (closed_at - detected_at)) / 86400.0 AS days
    FROM deviations
    WHERE closed_at >= :start AND closed_at < :end
)
SELECT site_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS value,
       COUNT(*) AS n,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY days) AS p90_days
FROM d
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
