-- Deviations recorded on one batch of the scoped sites.
SELECT d.deviation_id, d.detected_at, d.closed_at, d.severity, d.category, d.root_cause_code, d.source
FROM batches b
JOIN deviations d ON d.batch_id = b.batch_id
WHERE b.batch_id = :batch_id AND b.site_id IN :sites
ORDER BY d.detected_at, d.deviation_id
