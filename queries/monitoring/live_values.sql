-- Every sensor of the scoped sites with its effective limits (view sensor_effective_limits), newest live
-- reading and the most severe open excursion (2 action, 1 alert, NULL none).
SELECT s.sensor_id, s.site_id, s.room_id, r.name AS room_name, r.grade, s.parameter, s.unit,
       l.alert_low, l.alert_high, l.action_low, l.action_high, l.hysteresis, l.basis,
       lt.ts AS latest_ts, lt.value AS latest_value, lt.received_at,
       (SELECT MAX(CASE WHEN e.level = 'action' THEN 2 ELSE 1 END) FROM excursions e
        WHERE e.sensor_id = s.sensor_id AND e.ended_at IS NULL) AS open_level,
       (SELECT MIN(e.started_at) FROM excursions e
        WHERE e.sensor_id = s.sensor_id AND e.ended_at IS NULL) AS open_since
FROM sensors s
JOIN rooms r ON r.room_id = s.room_id
JOIN sensor_effective_limits l ON l.sensor_id = s.sensor_id
LEFT JOIN sensor_latest lt ON lt.sensor_id = s.sensor_id
WHERE s.site_id IN :sites
ORDER BY s.site_id, r.room_id, s.sensor_id
