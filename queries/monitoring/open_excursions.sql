-- Open excursions of the scoped sites (overview tiles), action first, then the oldest; with the unit.
SELECT e.excursion_id, e.site_id, si.name AS site_name, si.timezone, e.room_id, r.name AS room_name,
       r.grade, e.sensor_id, e.parameter, e.level, e.started_at, e.detected_at, e.peak, s.unit,
       e.acknowledged_at
FROM excursions e
JOIN rooms r ON r.room_id = e.room_id
JOIN sites si ON si.site_id = e.site_id
JOIN sensors s ON s.sensor_id = e.sensor_id
WHERE e.ended_at IS NULL AND e.site_id IN :sites
ORDER BY CASE WHEN e.level = 'action' THEN 0 ELSE 1 END, e.started_at, e.excursion_id
