-- Deviations of the scoped sites detected in the window, for the drill-down timeline.
SELECT deviation_id, site_id, batch_id, occurred_at, detected_at, closed_at, severity, category,
       root_cause_code, sop_id, source, human_factors
FROM deviations
WHERE site_id IN :sites AND detected_at >= :start AND detected_at < :end
ORDER BY detected_at
