-- Earlier deviations with the same root cause as one deviation of the scoped sites, detected in the
-- :lookback_days before it, at the scoped sites only (other sites: deviation_recurrence_elsewhere).
SELECT e.deviation_id, e.site_id, e.detected_at, e.severity, e.closed_at,
       EXTRACT(EPOCH FROM (d.detected_at - e.detected_at)) / 86400.0 AS days_before
FROM deviations d
JOIN deviations e ON e.root_cause_code = d.root_cause_code AND e.deviation_id <> d.deviation_id
    AND e.detected_at < d.detected_at
    AND e.detected_at >= d.detected_at - :lookback_days * INTERVAL '1 day'
WHERE d.deviation_id = :deviation_id AND d.site_id IN :sites AND e.site_id IN :sites
ORDER BY e.detected_at DESC, e.deviation_id
