-- KPI capa_on_time: CAPAs due in the window (and already due at its end) closed by their due date.
-- An open CAPA past its due date counts as late.
SELECT site_id,
       100.0 * SUM(CASE WHEN closed_at IS NOT NULL AND closed_at <= due_at THEN 1 ELSE 0 END)
             / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(CASE WHEN closed_at IS NOT NULL AND closed_at <= due_at THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM capas
WHERE due_at >= :start AND due_at < :end
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
