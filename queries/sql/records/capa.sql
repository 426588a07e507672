-- One CAPA of the scoped sites with its deviation's root cause and its site's name and time zone.
SELECT c.capa_id, c.site_id, s.name AS site_name, s.timezone, c.deviation_id, d.root_cause_code, d.severity,
       c.opened_at, c.due_at, c.closed_at, c.effective, c.effectiveness_checked_at, c.description
FROM capas c
JOIN sites s ON s.site_id = c.site_id
LEFT JOIN deviations d ON d.deviation_id = c.deviation_id
WHERE c.capa_id = :capa_id AND c.site_id IN :sites
