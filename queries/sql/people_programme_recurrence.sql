-- Recurrence (same root cause at the same site within :lookback_days before) around each behaviour
-- programme start at a site in scope: 'before' = the 365 days before the start, 'transition' = the first
-- :lookback_days after it (a recurrence then may repeat a cause from before the programme), 'after' =
-- from then up to the window end.
WITH p AS (
    SELECT programme_id, site_id, kind, started_at FROM programmes
    WHERE site_id IN :sites AND started_at < :end
),
d AS (
    SELECT p.programme_id, p.site_id, p.kind, p.started_at, dv.deviation_id, dv.root_cause_code, dv.detected_at,
           CASE WHEN dv.detected_at < p.started_at THEN 'before'
                WHEN dv.detected_at < p.started_at + :lookback_days * INTERVAL '1 day' THEN 'transition'
                ELSE 'after' END AS period
    FROM p JOIN deviations dv ON dv.site_id = p.site_id
    WHERE dv.detected_at >= p.started_at - 365 * INTERVAL '1 day' AND dv.detected_at < :end
),
flags AS (
    SELECT d.*,
           CASE WHEN EXISTS (
               SELECT 1 FROM deviations e
               WHERE e.site_id = d.site_id AND e.root_cause_code = d.root_cause_code
                 AND e.deviation_id <> d.deviation_id AND e.detected_at < d.detected_at
                 AND e.detected_at >= d.detected_at - :lookback_days * INTERVAL '1 day'
           ) THEN 1 ELSE 0 END AS recurred
    FROM d
)
SELECT programme_id, site_id, kind, started_at, period,
       MIN(detected_at) AS first_detected, MAX(detected_at) AS last_detected,
       COUNT(*) AS deviations, SUM(recurred) AS recurred,
       100.0 * SUM(recurred) / COUNT(*) AS recurrence_pct
FROM flags
GROUP BY programme_id, site_id, kind, started_at, period
ORDER BY site_id, started_at, CASE period WHEN 'before' THEN 0 WHEN 'transition' THEN 1 ELSE 2 END
