INSERT INTO display_tokens (token_id, token_hash, user_id, label, created_at, created_by)
VALUES (:token_id, :token_hash, :user_id, :label, :created_at, :created_by)
