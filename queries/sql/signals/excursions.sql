-- Excursions of the scoped sites that started in the window, for drift lead times and the charts.
SELECT excursion_id, sensor_id, room_id, site_id, parameter, level, started_at, detected_at, ended_at, peak,
       acknowledged_at, deviation_id
FROM excursions
WHERE site_id IN :sites AND started_at >= :start AND started_at < :end
ORDER BY started_at, excursion_id
