-- Sensors that reported since :since, with when ingest last stored one of their readings.
SELECT s.sensor_id, s.site_id, s.room_id, s.parameter, s.interval_s, l.received_at
FROM sensors s
JOIN sensor_latest l ON l.sensor_id = s.sensor_id
WHERE l.received_at >= :since
ORDER BY s.site_id, s.sensor_id
