-- KPI time_to_competency: median days from starting a module to certification, certified in the window.
-- As for the pass rate, a site with fewer than :min_n distinct operators certified in the window is
-- suppressed and enters no aggregate (the network included).
WITH c AS (
    SELECT site_id, operator_ref, module,
           EXTRACT(EPOCH FROM (MAX(certified_at) - MIN(started_at))) / 86400.0 AS days
    FROM training_records
    WHERE certified_at >= :start AND certified_at < :end
    GROUP BY site_id, operator_ref, module
),
sized AS (
    SELECT site_id, COUNT(DISTINCT operator_ref) >= :min_n AS shown FROM c GROUP BY site_id
),
g AS (
    SELECT c.site_id, GROUPING(c.site_id) AS is_network,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN s.shown THEN c.days END) AS value,
           COUNT(CASE WHEN s.shown THEN c.days END) AS certified
    FROM c JOIN sized s ON s.site_id = c.site_id
    GROUP BY ROLLUP (c.site_id)
)
SELECT site_id,
       CASE WHEN certified > 0 THEN value END AS value,
       CASE WHEN certified > 0 THEN certified END AS n,
       certified = 0 AS suppressed
FROM g
WHERE (is_network = 1 AND :network) OR site_id IN :sites
