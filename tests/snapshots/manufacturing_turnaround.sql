-- KPI manufacturing_turnaround: median days from manufacturing start to release, released in window.
WITH b AS (
    SELECT site_id, EXTRACT(EPOCH FROM (released_at - started_at)) / 86400.0 AS days
    FROM batches
    WHERE released_at >= :start AND released_at < :end
)
SELECT site_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS value,
       COUNT(*) AS n
FROM b
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
