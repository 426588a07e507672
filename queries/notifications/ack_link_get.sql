SELECT token_hash, excursion_id, notification_id, recipient, created_at, expires_at, used_at, used_by
FROM ack_links WHERE token_hash = :token_hash
