SELECT user_id, display_name, role, site_id, active, created_at, email FROM users ORDER BY role, user_id
