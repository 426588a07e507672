-- First certification attempts of every site before :end (pass or fail), for the risk model's pass-rate
-- feature. No operator reference leaves SQL.
SELECT site_id, attempt_at, passed
FROM training_records
WHERE attempt_no = 1 AND attempt_at < :end
ORDER BY attempt_at
