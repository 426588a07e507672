-- Product impact of one excursion of the scoped sites: the batches in its room whose manufacture (start
-- to completion, or :end while in process) overlapped it (start to end, or :end while open).
SELECT b.batch_id, b.product, b.started_at, b.completed_at, b.status
FROM excursions e
JOIN batches b ON b.room_id = e.room_id AND b.site_id = e.site_id
    AND b.started_at < COALESCE(e.ended_at, CAST(:end AS TIMESTAMP))
    AND COALESCE(b.completed_at, CAST(:end AS TIMESTAMP)) > e.started_at
WHERE e.excursion_id = :excursion_id AND e.site_id IN :sites
ORDER BY b.started_at, b.batch_id
