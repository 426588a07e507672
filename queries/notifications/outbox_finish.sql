-- A message delivered (sent, printed) or cancelled: done, whatever dispatcher holds it.
UPDATE notification_outbox
SET status = :status, finished_at = :now, last_response = :response, claimed_until = NULL
WHERE notification_id = :notification_id AND status IN ('pending', 'sending')
