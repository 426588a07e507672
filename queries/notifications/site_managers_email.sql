-- The addresses of a site's active site managers (who have one).
SELECT user_id, email FROM users
WHERE active AND role = 'site_manager' AND site_id = :site_id AND email IS NOT NULL AND email <> ''
ORDER BY user_id
