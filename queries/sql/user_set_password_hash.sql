-- Rehash on login when argon2 parameters changed.
UPDATE users SET password_hash = :password_hash WHERE user_id = :user_id
