-- Per site (and the network) and calendar quarter in the window: batches started, deviations linked to
-- those batches, near misses reported, and deviations detected with how many recurred (same root cause
-- at the same site within :lookback_days before).
WITH events AS (
    SELECT site_id, date_trunc('quarter', started_at) AS quarter, 1 AS batches,
           (SELECT COUNT(*) FROM deviations d WHERE d.batch_id = b.batch_id) AS batch_deviations,
           0 AS near_misses, 0 AS deviations, 0 AS recurred
    FROM batches b
    WHERE started_at >= :start AND started_at < :end
    UNION ALL
    SELECT site_id, date_trunc('quarter', reported_at), 0, 0, 1, 0, 0
    FROM near_misses
    WHERE reported_at >= :start AND reported_at < :end
    UNION ALL
    SELECT d.site_id, date_trunc('quarter', d.detected_at), 0, 0, 0, 1,
           CASE WHEN EXISTS (
               SELECT 1 FROM deviations e
               WHERE e.site_id = d.site_id AND e.root_cause_code = d.root_cause_code
                 AND e.deviation_id <> d.deviation_id AND e.detected_at < d.detected_at
                 AND e.detected_at >= d.detected_at - :lookback_days * INTERVAL '1 day'
           ) THEN 1 ELSE 0 END
    FROM deviations d
    WHERE d.detected_at >= :start AND d.detected_at < :end
)
SELECT site_id, quarter, SUM(batches) AS batches, SUM(batch_deviations) AS batch_deviations,
       SUM(near_misses) AS near_misses, SUM(deviations) AS deviations, SUM(recurred) AS recurred
FROM events
GROUP BY GROUPING SETS ((site_id, quarter), (quarter))
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
ORDER BY site_id, quarter
