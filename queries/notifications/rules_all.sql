SELECT rule_id, event, site_id, room_id, grade, parameter, channel, recipient, delay_s, repeat_every_s, repeat_max,
       active, created_by, created_at
FROM notification_rules
ORDER BY event, COALESCE(site_id, ''), delay_s, rule_id
