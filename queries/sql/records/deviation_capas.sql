-- The CAPAs opened for one deviation of the scoped sites, oldest first.
SELECT c.capa_id, c.opened_at, c.due_at, c.closed_at, c.effective, c.effectiveness_checked_at, c.description
FROM capas c
JOIN deviations d ON d.deviation_id = c.deviation_id
WHERE c.deviation_id = :deviation_id AND d.site_id IN :sites
ORDER BY c.opened_at, c.capa_id
