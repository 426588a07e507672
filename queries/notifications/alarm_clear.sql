UPDATE system_alarms SET cleared_at = :cleared_at WHERE alarm_id = :alarm_id AND cleared_at IS NULL
