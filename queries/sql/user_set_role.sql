-- Role change; the session version moves too, so every session of the user ends (SECURITY.md: a role change ends every session).
UPDATE users SET role = :role, site_id = :site_id, session_version = session_version + 1
WHERE user_id = :user_id
