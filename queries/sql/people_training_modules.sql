-- Per training module, per site and for the network: first certification attempts made in the window
-- and how many passed; certifications in the window and the median days from starting the module.
WITH first_attempts AS (
    SELECT site_id, module, COUNT(*) AS first_attempts,
           SUM(CASE WHEN passed THEN 1 ELSE 0 END) AS first_passed
    FROM training_records
    WHERE attempt_no = 1 AND attempt_at >= :start AND attempt_at < :end
    GROUP BY site_id, module
),
certified AS (
    SELECT site_id, operator_ref, module,
           EXTRACT(EPOCH FROM (MAX(certified_at) - MIN(started_at))) / 86400.0 AS days
    FROM training_records
    GROUP BY site_id, operator_ref, module
    HAVING MAX(certified_at) >= :start AND MAX(certified_at) < :end
),
per_site AS (
    SELECT COALESCE(f.site_id, c.site_id) AS site_id, COALESCE(f.module, c.module) AS module,
           f.first_attempts, f.first_passed
    FROM first_attempts f
    FULL OUTER JOIN (SELECT DISTINCT site_id, module FROM certified) c
      ON c.site_id = f.site_id AND c.module = f.module
),
pass AS (
    SELECT site_id, module, GROUPING(site_id) AS all_sites,
           COALESCE(SUM(first_attempts), 0) AS first_attempts, COALESCE(SUM(first_passed), 0) AS first_passed
    FROM per_site
    GROUP BY GROUPING SETS ((site_id, module), (module))
),
ttc AS (
    SELECT site_id, module, GROUPING(site_id) AS all_sites, COUNT(*) AS certifications,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median_days
    FROM certified
    GROUP BY GROUPING SETS ((site_id, module), (module))
)
SELECT p.site_id, p.module, p.first_attempts, p.first_passed,
       100.0 * p.first_passed / NULLIF(p.first_attempts, 0) AS first_pass_pct,
       COALESCE(t.certifications, 0) AS certifications, t.median_days
FROM pass p
LEFT JOIN ttc t ON t.module = p.module AND t.all_sites = p.all_sites
                AND t.site_id IS NOT DISTINCT FROM p.site_id
WHERE (p.all_sites = 1 AND :network) OR p.site_id IN :sites
ORDER BY p.site_id, p.module
