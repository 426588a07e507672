-- KPI time_to_competency: median days from starting a module to certification, certified in the window.
WITH c AS (
    SELECT site_id, operator_ref, module,
           EXTRACT(EPOCH FROM (MAX(certified_at) - MIN(started_at))) / 86400.0 AS days
    FROM training_records
    WHERE certified_at >= :start AND certified_at < :end
    GROUP BY site_id, operator_ref, module
)
SELECT site_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS value,
       COUNT(*) AS n
FROM c
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
