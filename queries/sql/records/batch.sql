-- One batch of the scoped sites with its site and room; no row outside the scope.
SELECT b.batch_id, b.site_id, s.name AS site_name, s.timezone, b.room_id, r.name AS room_name, r.grade,
       b.product, b.process_version, b.apheresis_at, b.started_at, b.completed_at, b.released_at, b.infused_at,
       b.status
FROM batches b
JOIN sites s ON s.site_id = b.site_id
LEFT JOIN rooms r ON r.room_id = b.room_id
WHERE b.batch_id = :batch_id AND b.site_id IN :sites
