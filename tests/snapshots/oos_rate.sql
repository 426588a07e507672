-- KPI oos_rate: batches completed in the window with at least one CQA result outside its release
-- specification / batches completed in the window with at least one result.
WITH b AS (
    SELECT b.site_id,
           CASE WHEN EXISTS (SELECT 1 FROM batch_cqa_results r WHERE r.batch_id = b.batch_id AND r.oos)
                THEN 1 ELSE 0 END AS oos
    FROM batches b
    WHERE b.completed_at >= :start AND b.completed_at < :end
      AND EXISTS (SELECT 1 FROM batch_cqa_results r WHERE r.batch_id = b.batch_id)
)
SELECT site_id,
       100.0 * SUM(oos) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(oos) AS numerator,
       COUNT(*) AS denominator
FROM b
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
