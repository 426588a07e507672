-- Open excursions across the whole network by level: an anonymised count (no site, no room).
SELECT level, COUNT(*) AS n
FROM excursions
WHERE ended_at IS NULL AND :network
GROUP BY level
