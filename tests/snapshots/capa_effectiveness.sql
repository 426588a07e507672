-- KPI capa_effectiveness: CAPAs judged effective at an effectiveness check made in the window.
SELECT site_id,
       100.0 * SUM(CASE WHEN effective THEN 1 ELSE 0 END) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(CASE WHEN effective THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM capas
WHERE effectiveness_checked_at >= :start AND effectiveness_checked_at < :end
  AND effective IS NOT NULL
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
