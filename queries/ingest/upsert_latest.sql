-- Newest reading per sensor from the batch's new readings, step 1: sensors already present. A late
-- (older) reading never replaces a newer one. (UPDATE ... FROM: on DuckDB several times faster than
-- INSERT ... ON CONFLICT DO UPDATE for rows that change on every batch.)
UPDATE sensor_latest SET ts = n.ts, value = n.value, received_at = :received_at
FROM (SELECT sensor_id, ts, value,
             ROW_NUMBER() OVER (PARTITION BY sensor_id ORDER BY ts DESC, value DESC) AS newest
      FROM ingest_stage_new) n
WHERE n.newest = 1 AND n.sensor_id = sensor_latest.sensor_id AND n.ts >= sensor_latest.ts
