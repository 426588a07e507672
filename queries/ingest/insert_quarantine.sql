-- A batch's rejected messages, with the raw payload bytes and the reason.
INSERT INTO quarantine (received_at, topic, payload, reason)
SELECT received_at, topic, payload, reason FROM ingest_stage_quarantine
