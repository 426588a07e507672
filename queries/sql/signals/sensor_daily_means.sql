-- Daily means of the scoped sites' sensors (reading_rollups, grain 'day') from :start (the baseline's
-- first day) to :end. The caller drops a last day that is not over yet.
SELECT r.sensor_id, s.site_id, s.parameter, r.bucket AS day, r.n, r.value_mean
FROM reading_rollups r
JOIN sensors s ON s.sensor_id = r.sensor_id
WHERE r.grain = 'day' AND s.site_id IN :sites AND r.bucket >= :start AND r.bucket < :end
ORDER BY r.sensor_id, r.bucket
