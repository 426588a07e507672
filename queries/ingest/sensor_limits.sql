-- Every registered sensor with its effective limits: the room's own row in `limits` when there is
-- one, else the grade default (room_id '*'). No limit row: the sensor is stored but never alarms.
SELECT s.sensor_id, s.room_id, s.site_id, s.parameter, s.unit, s.interval_s, r.grade,
       l.alert_low, l.alert_high, l.action_low, l.action_high,
       l.alert_delay_s, l.action_delay_s, l.hysteresis
FROM sensors s
JOIN rooms r ON r.room_id = s.room_id
LEFT JOIN limits l
       ON l.parameter = s.parameter AND l.grade = r.grade
      AND l.room_id = CASE WHEN EXISTS (SELECT 1 FROM limits o
                                        WHERE o.parameter = s.parameter AND o.grade = r.grade
                                          AND o.room_id = s.room_id)
                           THEN s.room_id ELSE '*' END
ORDER BY s.sensor_id
