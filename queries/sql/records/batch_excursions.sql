-- EM excursions in one batch's room while it was made: the potential-product-impact rule of
-- queries/monitoring/excursion_impact.sql seen from the batch (the batch started before the excursion
-- ended, an open one running to :end, and was not completed before it started), so the batch record
-- and the excursion's impact list always agree.
SELECT e.excursion_id, e.sensor_id, e.parameter, e.level, e.started_at, e.ended_at, e.peak, e.deviation_id
FROM batches b
JOIN excursions e
  ON e.room_id = b.room_id
 AND b.started_at <= COALESCE(e.ended_at, CAST(:end AS TIMESTAMP))
 AND (b.completed_at IS NULL OR b.completed_at >= e.started_at)
WHERE b.batch_id = :batch_id AND b.site_id IN :sites
ORDER BY e.started_at, e.excursion_id
