-- One sensor's rollups of one grain in [:since, :until); the sensor must belong to a scoped site.
SELECT bucket, n, value_mean, value_min, value_max
FROM reading_rollups
WHERE sensor_id = :sensor_id AND grain = :grain AND bucket >= :since AND bucket < :until
  AND sensor_id IN (SELECT sensor_id FROM sensors WHERE site_id IN :sites)
ORDER BY bucket
