-- Stored readings of some sensors since :since, in time order (engine warm start and late data).
SELECT sensor_id, ts, value FROM readings
WHERE sensor_id IN :ids AND ts >= :since
ORDER BY sensor_id, ts
