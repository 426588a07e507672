INSERT INTO excursions (excursion_id, sensor_id, room_id, site_id, parameter, level, started_at,
                        detected_at, ended_at, peak, deviation_id)
VALUES (:excursion_id, :sensor_id, :room_id, :site_id, :parameter, :level, :started_at,
        :detected_at, :ended_at, :peak, :deviation_id)
