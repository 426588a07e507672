-- Ends every session of the user (logout, role change): cookies carry the version they were issued with.
UPDATE users SET session_version = session_version + 1 WHERE user_id = :user_id
