-- Take up to :n due messages (pending and due, or sending under a lease that ran out: its dispatcher
-- stopped mid-send) for this dispatcher until :lease_until. SKIP LOCKED: several dispatchers (one per
-- server) each take different rows, so none needs to be the leader.
UPDATE notification_outbox
SET status = 'sending', claimed_until = :lease_until, attempts = attempts + 1
WHERE notification_id IN (
    SELECT notification_id FROM notification_outbox
    WHERE (status = 'pending' AND next_attempt_at <= :now) OR (status = 'sending' AND claimed_until <= :now)
    ORDER BY next_attempt_at, notification_id
    LIMIT :n
    FOR UPDATE SKIP LOCKED)
RETURNING notification_id, event, event_id, site_id, rule_id, repeat_no, channel, recipient, subject, body,
          due_at, attempts
