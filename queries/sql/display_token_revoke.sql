-- Revocation is final: a revoked token is never reactivated (create a new one instead).
UPDATE display_tokens SET revoked_at = :revoked_at, revoked_by = :revoked_by
WHERE token_id = :token_id AND revoked_at IS NULL
