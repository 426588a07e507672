-- What a message about an excursion names: the site (and its time zone), the room and its grade, the
-- sensor's unit and its effective limits.
SELECT st.name AS site_name, st.timezone, r.name AS room_name, r.grade, s.unit,
       l.alert_low, l.alert_high, l.action_low, l.action_high
FROM sensors s
JOIN rooms r ON r.room_id = s.room_id
JOIN sites st ON st.site_id = s.site_id
LEFT JOIN sensor_effective_limits l ON l.sensor_id = s.sensor_id
WHERE s.sensor_id = :sensor_id
