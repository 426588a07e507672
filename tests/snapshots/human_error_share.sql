-- KPI human_error_share: deviations in category 'people' over all deviations detected in the window.
SELECT site_id,
       100.0 * SUM(CASE WHEN category = 'people' THEN 1 ELSE 0 END) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(CASE WHEN category = 'people' THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM deviations
WHERE detected_at >= :start AND detected_at < :end
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
