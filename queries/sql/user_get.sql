SELECT user_id, display_name, role, site_id, password_hash, session_version, active
FROM users WHERE user_id = :user_id
