-- Attempts that did not deliver (failed, or interrupted by a dispatcher that stopped) since :since, newest first.
SELECT a.notification_id, a.attempt, a.attempted_at, a.outcome, a.response, o.recipient, o.channel, o.event,
       o.event_id, o.status
FROM notification_attempts a
JOIN notification_outbox o ON o.notification_id = a.notification_id
WHERE a.outcome IN ('failed', 'interrupted') AND a.attempted_at >= :since
ORDER BY a.attempted_at DESC, a.notification_id
LIMIT :n
