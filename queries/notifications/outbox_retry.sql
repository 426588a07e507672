-- A failed attempt: pending again, after the back-off.
UPDATE notification_outbox
SET status = 'pending', next_attempt_at = :next_attempt_at, last_response = :response, claimed_until = NULL
WHERE notification_id = :notification_id AND status = 'sending'
