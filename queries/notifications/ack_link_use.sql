-- Single use: only a link not used before is marked (the caller's acknowledgement commits with it).
UPDATE ack_links SET used_at = :used_at, used_by = :used_by
WHERE token_hash = :token_hash AND used_at IS NULL AND expires_at > :used_at
RETURNING token_hash
