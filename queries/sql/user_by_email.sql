-- The active user a notification address belongs to (addresses compared without case).
SELECT user_id FROM users WHERE active AND lower(email) = lower(:email) ORDER BY user_id
