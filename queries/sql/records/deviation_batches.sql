-- The batch one deviation of the scoped sites was recorded on (the batches in the room during its
-- excursion come from excursion_batches.sql).
SELECT b.batch_id, b.product, b.started_at, b.completed_at, b.status, 'recorded on the deviation' AS relation
FROM deviations d
JOIN batches b ON b.batch_id = d.batch_id
WHERE d.deviation_id = :deviation_id AND d.site_id IN :sites
