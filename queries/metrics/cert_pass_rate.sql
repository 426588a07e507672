-- KPI cert_pass_rate: first certification attempts (attempt_no = 1) made in the window that passed.
-- Figures about identifiable operators follow the surveys' minimum group size: a site whose first
-- attempts in the window come from fewer than :min_n distinct operators is suppressed and enters no
-- aggregate (the network included), so no subtraction of a site from the network isolates them.
WITH a AS (
    SELECT site_id, operator_ref, passed
    FROM training_records
    WHERE attempt_no = 1 AND attempt_at >= :start AND attempt_at < :end
),
sized AS (
    SELECT site_id, COUNT(DISTINCT operator_ref) >= :min_n AS shown FROM a GROUP BY site_id
),
g AS (
    SELECT a.site_id, GROUPING(a.site_id) AS is_network,
           SUM(CASE WHEN s.shown THEN 1 ELSE 0 END) AS attempts,
           SUM(CASE WHEN s.shown AND a.passed THEN 1 ELSE 0 END) AS passed
    FROM a JOIN sized s ON s.site_id = a.site_id
    GROUP BY ROLLUP (a.site_id)
)
SELECT site_id,
       100.0 * passed / NULLIF(attempts, 0) AS value,
       CASE WHEN attempts > 0 THEN attempts END AS n,
       CASE WHEN attempts > 0 THEN passed END AS numerator,
       CASE WHEN attempts > 0 THEN attempts END AS denominator,
       attempts = 0 AS suppressed
FROM g
WHERE (is_network = 1 AND :network) OR site_id IN :sites
