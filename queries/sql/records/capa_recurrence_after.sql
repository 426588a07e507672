-- Deviations of the same root cause at the CAPA's site detected after the CAPA was opened: what its
-- effectiveness check has to explain (a recurrence after the action is the measurable failure).
SELECT e.deviation_id, e.detected_at, e.severity, e.closed_at
FROM capas c
JOIN deviations d ON d.deviation_id = c.deviation_id
JOIN deviations e ON e.root_cause_code = d.root_cause_code AND e.site_id = c.site_id
    AND e.detected_at > c.opened_at AND e.deviation_id <> d.deviation_id
WHERE c.capa_id = :capa_id AND c.site_id IN :sites
ORDER BY e.detected_at, e.deviation_id
