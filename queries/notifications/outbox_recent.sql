-- The newest messages first, with their delivery state.
SELECT notification_id, event, event_id, site_id, rule_id, repeat_no, channel, recipient, subject, created_at,
       due_at, status, attempts, finished_at, last_response
FROM notification_outbox
ORDER BY created_at DESC, notification_id
LIMIT :n
