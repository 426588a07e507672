-- Raise an alarm once: a second watchdog raising the same one gets no row back, and queues nothing.
INSERT INTO system_alarms (alarm_id, kind, subject, site_id, detail, raised_at)
VALUES (:alarm_id, :kind, :subject, :site_id, :detail, :raised_at)
ON CONFLICT (alarm_id) DO NOTHING
RETURNING alarm_id
