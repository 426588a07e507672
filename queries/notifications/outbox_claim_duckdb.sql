-- Take up to :n due messages (pending and due, or sending under a lease that ran out: its dispatcher
-- stopped mid-send) for this dispatcher until :lease_until. DuckDB: one process writes, no row locks needed.
UPDATE notification_outbox
SET status = 'sending', claimed_until = :lease_until, attempts = attempts + 1
WHERE notification_id IN (
    SELECT notification_id FROM notification_outbox
    WHERE (status = 'pending' AND next_attempt_at <= :now) OR (status = 'sending' AND claimed_until <= :now)
    ORDER BY next_attempt_at, notification_id
    LIMIT :n)
RETURNING notification_id, event, event_id, site_id, rule_id, repeat_no, channel, recipient, subject, body,
          due_at, attempts
