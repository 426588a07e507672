-- CAPAs of the scoped sites still open at the end of the window.
SELECT c.capa_id, c.deviation_id, c.site_id, c.opened_at, c.due_at, d.root_cause_code, d.severity,
       EXTRACT(EPOCH FROM (CAST(:end AS TIMESTAMP) - c.due_at)) / 86400.0 AS days_overdue
FROM capas c
LEFT JOIN deviations d ON d.deviation_id = c.deviation_id
WHERE c.site_id IN :sites AND c.opened_at < :end AND (c.closed_at IS NULL OR c.closed_at >= :end)
  AND c.opened_at >= CAST(:start AS TIMESTAMP) - INTERVAL '365 days'
ORDER BY c.due_at
