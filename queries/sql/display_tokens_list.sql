SELECT token_id, user_id, label, created_at, created_by, revoked_at, revoked_by
FROM display_tokens ORDER BY created_at, token_id
