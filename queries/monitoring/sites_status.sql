-- Live status per site in scope: newest live reading, sensors, open excursions by level.
SELECT s.site_id, s.name, s.timezone,
       (SELECT MAX(l.ts) FROM sensor_latest l JOIN sensors x ON x.sensor_id = l.sensor_id
        WHERE x.site_id = s.site_id) AS latest_ts,
       (SELECT COUNT(*) FROM sensors x WHERE x.site_id = s.site_id) AS sensors,
       (SELECT COUNT(*) FROM sensor_latest l JOIN sensors x ON x.sensor_id = l.sensor_id
        WHERE x.site_id = s.site_id AND l.ts >= :fresh_since) AS sensors_fresh,
       (SELECT COUNT(*) FROM excursions e
        WHERE e.site_id = s.site_id AND e.ended_at IS NULL AND e.level = 'action') AS open_action,
       (SELECT COUNT(*) FROM excursions e
        WHERE e.site_id = s.site_id AND e.ended_at IS NULL AND e.level = 'alert') AS open_alert,
       (SELECT COUNT(*) FROM excursions e
        WHERE e.site_id = s.site_id AND e.acknowledged_at IS NULL) AS unacknowledged
FROM sites s
WHERE s.site_id IN :sites
ORDER BY s.kind, s.site_id
