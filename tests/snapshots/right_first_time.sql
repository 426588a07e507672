-- KPI right_first_time: batches dispositioned (released or rejected) in the window that were released
-- with no linked deviation and no out-of-specification CQA.
WITH b AS (
    SELECT b.site_id,
           CASE WHEN b.status = 'released'
                 AND NOT EXISTS (SELECT 1 FROM deviations d WHERE d.batch_id = b.batch_id)
                 AND NOT EXISTS (SELECT 1 FROM batch_cqa_results r WHERE r.batch_id = b.batch_id AND r.oos)
                THEN 1 ELSE 0 END AS rft
    FROM batches b
    WHERE COALESCE(b.released_at, b.completed_at) >= :start
      AND COALESCE(b.released_at, b.completed_at) < :end
      AND b.status IN ('released', 'rejected')
)
SELECT site_id,
       100.0 * SUM(rft) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(rft) AS numerator,
       COUNT(*) AS denominator
FROM b
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
