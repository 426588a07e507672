-- Potential product impact: batches in the excursion's room at any time during the excursion
-- (an open excursion runs until :now). Scoped sites only.
SELECT e.excursion_id, b.batch_id, b.product, b.status, b.started_at, b.completed_at
FROM excursions e
JOIN batches b
  ON b.room_id = e.room_id
 AND b.started_at <= COALESCE(e.ended_at, :now)
 AND (b.completed_at IS NULL OR b.completed_at >= e.started_at)
WHERE e.excursion_id IN :ids AND e.site_id IN :sites
ORDER BY e.excursion_id, b.started_at, b.batch_id
