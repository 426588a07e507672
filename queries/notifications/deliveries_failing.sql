-- Messages still not delivered after :min_failures failed attempts, with their first failure.
SELECT o.notification_id, o.recipient, o.channel, COUNT(*) AS failures, MIN(a.attempted_at) AS first_failure
FROM notification_outbox o
JOIN notification_attempts a ON a.notification_id = o.notification_id AND a.outcome = 'failed'
WHERE o.status IN ('pending', 'sending') AND o.event <> 'system_alarm'
GROUP BY o.notification_id, o.recipient, o.channel
HAVING COUNT(*) >= :min_failures
