-- Queue one message; the same event, rule and repeat queued again adds nothing.
INSERT INTO notification_outbox (notification_id, event, event_id, site_id, rule_id, repeat_no, channel, recipient,
                                 subject, body, created_at, due_at, status, next_attempt_at, attempts)
VALUES (:notification_id, :event, :event_id, :site_id, :rule_id, :repeat_no, :channel, :recipient,
        :subject, :body, :created_at, :due_at, 'pending', :due_at, 0)
ON CONFLICT (notification_id) DO NOTHING
