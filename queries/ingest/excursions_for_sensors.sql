-- Stored excursions of some sensors that are open or ended after :since (engine warm start).
SELECT excursion_id, sensor_id, room_id, site_id, parameter, level, started_at, detected_at, ended_at,
       peak, deviation_id
FROM excursions
WHERE sensor_id IN :ids AND (ended_at IS NULL OR ended_at >= :since)
