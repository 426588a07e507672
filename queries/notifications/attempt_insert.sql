INSERT INTO notification_attempts (notification_id, attempt, attempted_at, outcome, response)
VALUES (:notification_id, :attempt, :attempted_at, :outcome, :response)
ON CONFLICT (notification_id, attempt) DO NOTHING
