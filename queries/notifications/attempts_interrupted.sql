-- Messages whose dispatcher stopped mid-send (its lease ran out): their unfinished attempt is recorded
-- before they are claimed again. Whether the server took that copy is unknown; the next carries the same id.
INSERT INTO notification_attempts (notification_id, attempt, attempted_at, outcome, response)
SELECT notification_id, attempts, :now, 'interrupted',
       'the dispatcher stopped during this attempt (its lease ran out); whether the server accepted it is unknown'
FROM notification_outbox
WHERE status = 'sending' AND claimed_until <= :now
ON CONFLICT (notification_id, attempt) DO NOTHING
