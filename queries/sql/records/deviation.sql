-- One deviation of the scoped sites with its site's name and time zone; no row outside the scope (the
-- record page answers "not found"). The pseudonymous operator reference is left out: people analytics only.
SELECT d.deviation_id, d.site_id, s.name AS site_name, s.timezone, d.batch_id, d.occurred_at, d.detected_at,
       d.closed_at, d.severity, d.category, d.root_cause_code, d.sop_id, d.source, d.human_factors,
       d.excursion_id, d.description
FROM deviations d
JOIN sites s ON s.site_id = d.site_id
WHERE d.deviation_id = :deviation_id AND d.site_id IN :sites
