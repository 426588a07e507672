SELECT alarm_id, kind, subject, site_id, detail, raised_at FROM system_alarms WHERE cleared_at IS NULL
ORDER BY raised_at, alarm_id
