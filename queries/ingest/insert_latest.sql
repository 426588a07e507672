-- Newest reading per sensor, step 2: sensors seen for the first time.
INSERT INTO sensor_latest (sensor_id, ts, value, received_at)
SELECT n.sensor_id, n.ts, n.value, :received_at
FROM (SELECT sensor_id, ts, value,
             ROW_NUMBER() OVER (PARTITION BY sensor_id ORDER BY ts DESC, value DESC) AS newest
      FROM ingest_stage_new) n
WHERE n.newest = 1 AND NOT EXISTS (SELECT 1 FROM sensor_latest l WHERE l.sensor_id = n.sensor_id)
