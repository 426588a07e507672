-- Deactivate or reactivate an account; sessions end either way.
UPDATE users SET active = :active, session_version = session_version + 1 WHERE user_id = :user_id
