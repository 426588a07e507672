-- One sensor's excursions overlapping [:since, :until) (trend annotations); scoped sites only.
SELECT excursion_id, level, started_at, ended_at, peak
FROM excursions
WHERE sensor_id = :sensor_id AND site_id IN :sites
  AND (ended_at IS NULL OR ended_at >= :since) AND started_at < :until
ORDER BY started_at
