INSERT INTO users (user_id, display_name, role, site_id, password_hash, session_version, active, created_at)
VALUES (:user_id, :display_name, :role, :site_id, :password_hash, 1, TRUE, :created_at)
