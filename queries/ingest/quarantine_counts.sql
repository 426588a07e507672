-- Messages quarantined since :since, and how many of them came on a topic outside the readings'
-- pattern (reason code bad_topic): the monitoring page shows both.
SELECT COUNT(*) AS quarantined,
       COUNT(*) FILTER (WHERE substr(reason, 1, 10) = 'bad_topic:') AS bad_topic
FROM quarantine
WHERE received_at >= :since
