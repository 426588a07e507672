-- KPI deviation_rate: deviations linked to batches started in the window, per batch started.
WITH b AS (
    SELECT b.site_id,
           (SELECT COUNT(*) FROM deviations d WHERE d.batch_id = b.batch_id) AS deviations
    FROM batches b
    WHERE b.started_at >= :start AND b.started_at < :end
)
SELECT site_id,
       1.0 * SUM(deviations) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(deviations) AS numerator,
       COUNT(*) AS denominator
FROM b
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
