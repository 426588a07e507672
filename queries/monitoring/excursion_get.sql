-- One excursion, only if it belongs to a scoped site (otherwise: no row, i.e. not found).
SELECT excursion_id, sensor_id, room_id, site_id, parameter, level, started_at, detected_at, ended_at,
       peak, acknowledged_at, acknowledged_by, ack_comment, deviation_id
FROM excursions
WHERE excursion_id = :excursion_id AND site_id IN :sites
