INSERT INTO ack_links (token_hash, excursion_id, notification_id, recipient, created_at, expires_at)
VALUES (:token_hash, :excursion_id, :notification_id, :recipient, :created_at, :expires_at)
