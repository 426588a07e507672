-- EM excursions in one batch's room that overlapped its manufacture (start to completion, or :end while
-- in process; an open excursion runs to :end).
SELECT e.excursion_id, e.sensor_id, e.parameter, e.level, e.started_at, e.ended_at, e.peak, e.deviation_id
FROM batches b
JOIN excursions e ON e.room_id = b.room_id AND e.site_id = b.site_id
    AND e.started_at < COALESCE(b.completed_at, CAST(:end AS TIMESTAMP))
    AND COALESCE(e.ended_at, CAST(:end AS TIMESTAMP)) > b.started_at
WHERE b.batch_id = :batch_id AND b.site_id IN :sites
ORDER BY e.started_at, e.excursion_id
