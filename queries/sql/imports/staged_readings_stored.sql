-- Readings of the staged chunk (ingest_stage_readings) that an earlier import stored under the same ids
-- (import:<sensor>@<time>): the same export again stores nothing new, and a contradicting value is named.
SELECT staged.msg_id, stored.value
FROM ingest_stage_readings AS staged
JOIN readings AS stored ON stored.msg_id = staged.msg_id
