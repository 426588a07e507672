-- Every registered sensor with its effective limits (view sensor_effective_limits, queries/schema.sql).
-- No limit row: the sensor is stored but never alarms.
SELECT s.sensor_id, s.room_id, s.site_id, s.parameter, s.unit, s.interval_s, r.grade,
       l.alert_low, l.alert_high, l.action_low, l.action_high,
       l.alert_delay_s, l.action_delay_s, l.hysteresis
FROM sensors s
JOIN rooms r ON r.room_id = s.room_id
JOIN sensor_effective_limits l ON l.sensor_id = s.sensor_id
ORDER BY s.sensor_id
