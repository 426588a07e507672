-- KPI recurrence: share of deviations with an earlier deviation of the same root cause at the same
-- site within :lookback_days before it; cross_site_pct: same code earlier at another site.
WITH d AS (
    SELECT dv.deviation_id, dv.site_id, dv.root_cause_code, dv.detected_at
    FROM deviations dv
    WHERE dv.detected_at >= :start AND dv.detected_at < :end
),
flags AS (
    SELECT d.site_id,
           CASE WHEN EXISTS (
               SELECT 1 FROM deviations p
               WHERE p.site_id = d.site_id AND p.root_cause_code = d.root_cause_code
                 AND p.deviation_id <> d.deviation_id
                 AND p.detected_at < d.detected_at
                 AND p.detected_at >= d.detected_at - :lookback_days * INTERVAL '1 day'
           ) THEN 1 ELSE 0 END AS recurred,
           CASE WHEN EXISTS (
               SELECT 1 FROM deviations p
               WHERE p.site_id <> d.site_id AND p.root_cause_code = d.root_cause_code
                 AND p.detected_at < d.detected_at
                 AND p.detected_at >= d.detected_at - :lookback_days * INTERVAL '1 day'
           ) THEN 1 ELSE 0 END AS cross_site
    FROM d
)
SELECT site_id,
       100.0 * SUM(recurred) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(recurred) AS numerator,
       COUNT(*) AS denominator,
       100.0 * SUM(cross_site) / NULLIF(COUNT(*), 0) AS cross_site_pct
FROM flags
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
