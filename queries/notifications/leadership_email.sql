-- The addresses of the active quality leadership (who have one).
SELECT user_id, email FROM users
WHERE active AND role = 'leadership' AND email IS NOT NULL AND email <> ''
ORDER BY user_id
