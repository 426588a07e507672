-- Who has been sent (or printed) a message about an event: the addresses to tell that it was acknowledged.
SELECT DISTINCT rule_id, channel, recipient
FROM notification_outbox
WHERE event IN ('excursion_action', 'excursion_alert') AND event_id = :event_id AND status IN ('sent', 'printed')
ORDER BY rule_id, recipient
