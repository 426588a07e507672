-- Newest reading per sensor; a late (older) reading never replaces a newer one.
INSERT INTO sensor_latest AS t (sensor_id, ts, value, received_at)
SELECT sensor_id, ts, value, received_at FROM ingest_stage_latest
ON CONFLICT (sensor_id) DO UPDATE SET
    value = CASE WHEN excluded.ts >= t.ts THEN excluded.value ELSE t.value END,
    received_at = CASE WHEN excluded.ts >= t.ts THEN excluded.received_at ELSE t.received_at END,
    ts = CASE WHEN excluded.ts >= t.ts THEN excluded.ts ELSE t.ts END
