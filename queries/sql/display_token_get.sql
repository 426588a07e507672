SELECT token_id, token_hash, user_id, label, created_at, created_by, revoked_at, revoked_by
FROM display_tokens WHERE token_id = :token_id
