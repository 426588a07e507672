-- How many earlier deviations with the same root cause the sites outside the scope had in the
-- :lookback_days before one deviation of the scoped sites, and at how many sites: counts only, and only
-- for a scope that may see network aggregates.
SELECT COUNT(e.deviation_id) AS deviations, COUNT(DISTINCT e.site_id) AS sites
FROM deviations d
JOIN deviations e ON e.root_cause_code = d.root_cause_code
    AND e.detected_at < d.detected_at
    AND e.detected_at >= d.detected_at - :lookback_days * INTERVAL '1 day'
WHERE d.deviation_id = :deviation_id AND d.site_id IN :sites AND e.site_id NOT IN :sites AND :network
