-- Sensors of the scoped sites with their room, for the drift charts.
SELECT s.sensor_id, s.site_id, s.room_id, r.name AS room_name, r.grade, s.parameter, s.unit
FROM sensors s
JOIN rooms r ON r.room_id = s.room_id
WHERE s.site_id IN :sites
ORDER BY s.site_id, s.room_id, s.parameter
