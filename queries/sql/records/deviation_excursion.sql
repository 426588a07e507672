-- The EM excursion a deviation of the scoped sites came from (none for other sources).
SELECT e.excursion_id, e.sensor_id, e.room_id, r.name AS room_name, r.grade, e.parameter, e.level, e.started_at,
       e.detected_at, e.ended_at, e.peak, e.acknowledged_at
FROM deviations d
JOIN excursions e ON e.excursion_id = d.excursion_id
LEFT JOIN rooms r ON r.room_id = e.room_id
WHERE d.deviation_id = :deviation_id AND d.site_id IN :sites
