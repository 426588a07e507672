-- The active rules an event matches (a NULL filter matches everything).
SELECT rule_id, event, site_id, room_id, grade, parameter, channel, recipient, delay_s, repeat_every_s, repeat_max
FROM notification_rules
WHERE active AND event = :event
  AND (site_id IS NULL OR site_id = :site_id)
  AND (room_id IS NULL OR room_id = :room_id)
  AND (grade IS NULL OR grade = (SELECT r.grade FROM rooms r WHERE r.room_id = :room_id))
  AND (parameter IS NULL OR parameter = :parameter)
ORDER BY delay_s, rule_id
