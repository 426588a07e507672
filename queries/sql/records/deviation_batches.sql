-- The batches one deviation of the scoped sites touches: the batch it was recorded on, and for a
-- deviation raised by an excursion every batch in that room whose manufacture (start to completion, or
-- :end while in process) overlapped the excursion (start to end, or :end while open).
SELECT b.batch_id, b.product, b.started_at, b.completed_at, b.status, 'recorded on the deviation' AS relation
FROM deviations d
JOIN batches b ON b.batch_id = d.batch_id
WHERE d.deviation_id = :deviation_id AND d.site_id IN :sites
UNION
SELECT b.batch_id, b.product, b.started_at, b.completed_at, b.status, 'in the room during the excursion'
FROM deviations d
JOIN excursions e ON e.excursion_id = d.excursion_id
JOIN batches b ON b.room_id = e.room_id AND b.site_id = d.site_id
    AND b.started_at < COALESCE(e.ended_at, CAST(:end AS TIMESTAMP))
    AND COALESCE(b.completed_at, CAST(:end AS TIMESTAMP)) > e.started_at
WHERE d.deviation_id = :deviation_id AND d.site_id IN :sites AND b.batch_id <> COALESCE(d.batch_id, '')
ORDER BY started_at, batch_id
