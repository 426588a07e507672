-- Messages not yet finished (waiting for their time, being sent, or retrying after a failure), soonest first.
SELECT notification_id, event, event_id, site_id, rule_id, repeat_no, channel, recipient, subject, due_at,
       status, attempts, next_attempt_at, last_response
FROM notification_outbox
WHERE status IN ('pending', 'sending')
ORDER BY next_attempt_at, notification_id
LIMIT :n
