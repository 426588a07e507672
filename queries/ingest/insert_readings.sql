-- A batch's readings; a msg_id already stored (a re-delivery) is skipped. Returns only the rows
-- actually inserted, so rollups and the excursion engine count each reading exactly once.
INSERT INTO readings (sensor_id, ts, value, msg_id)
SELECT sensor_id, ts, value, msg_id FROM ingest_stage_readings
ON CONFLICT (msg_id) DO NOTHING
RETURNING sensor_id, ts, value
