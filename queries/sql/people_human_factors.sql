-- Human-factors tags (cognitive load, communication, environment, none) on deviations detected in the
-- window, per site and for the network.
SELECT site_id, human_factors, COUNT(*) AS deviations
FROM deviations
WHERE detected_at >= :start AND detected_at < :end
GROUP BY GROUPING SETS ((site_id, human_factors), (human_factors))
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
ORDER BY site_id, human_factors
