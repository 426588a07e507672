-- When the dispatcher has something to do next: the earliest pending message, or a lease that runs out.
SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE claimed_until END) AS next_at
FROM notification_outbox
WHERE status IN ('pending', 'sending')
