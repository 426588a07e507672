INSERT INTO notification_rules (rule_id, event, site_id, room_id, grade, parameter, channel, recipient, delay_s,
                                repeat_every_s, repeat_max, active, created_by, created_at)
VALUES (:rule_id, :event, :site_id, :room_id, :grade, :parameter, :channel, :recipient, :delay_s, :repeat_every_s,
        :repeat_max, TRUE, :created_by, :created_at)
