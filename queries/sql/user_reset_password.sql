-- Password reset by an administrator; the session version moves too, so every session of the user ends.
UPDATE users SET password_hash = :password_hash, session_version = session_version + 1 WHERE user_id = :user_id
