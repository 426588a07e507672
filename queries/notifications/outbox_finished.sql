-- Messages finished (sent, printed to the log, cancelled by an acknowledgement), newest first.
SELECT notification_id, event, event_id, site_id, rule_id, repeat_no, channel, recipient, subject, due_at,
       status, attempts, finished_at, last_response
FROM notification_outbox
WHERE status IN ('sent', 'printed', 'cancelled')
ORDER BY finished_at DESC, notification_id
LIMIT :n
