-- KPI vein_to_vein: median days from apheresis to infusion, infused in the window.
WITH b AS (
    SELECT site_id, EXTRACT(EPOCH FROM (infused_at - apheresis_at)) / 86400.0 AS days
    FROM batches
    WHERE infused_at >= :start AND infused_at < :end AND apheresis_at IS NOT NULL
)
SELECT site_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS value,
       COUNT(*) AS n
FROM b
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
