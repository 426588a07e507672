-- One gateway heartbeat (at most one per site and minute from the bridge).
INSERT INTO ingest_heartbeats (source, site_id, sensor_id, ts) VALUES (:source, :site_id, NULL, :ts)
