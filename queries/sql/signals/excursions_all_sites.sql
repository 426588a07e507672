-- Every site's excursions started between :start and :end: history for the risk model (aggregated
-- into per-site features in queries/analyses/risk.py, never shown row by row outside the user's sites).
SELECT site_id, started_at, detected_at, level
FROM excursions
WHERE started_at >= :start AND started_at < :end
ORDER BY started_at
