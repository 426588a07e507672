-- One EM excursion of the scoped sites with its room, sensor limits context and site time zone.
SELECT e.excursion_id, e.site_id, s.name AS site_name, s.timezone, e.sensor_id, e.room_id, r.name AS room_name,
       r.grade, e.parameter, e.level, e.started_at, e.detected_at, e.ended_at, e.peak, e.acknowledged_at,
       e.acknowledged_by, e.ack_comment, e.deviation_id, sn.unit
FROM excursions e
JOIN sites s ON s.site_id = e.site_id
LEFT JOIN rooms r ON r.room_id = e.room_id
LEFT JOIN sensors sn ON sn.sensor_id = e.sensor_id
WHERE e.excursion_id = :excursion_id AND e.site_id IN :sites
