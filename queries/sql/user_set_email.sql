UPDATE users SET email = :email WHERE user_id = :user_id
