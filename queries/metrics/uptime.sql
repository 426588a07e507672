-- KPI uptime: clock hours with at least one gateway heartbeat / clock hours of the window since the
-- site's onboarding (a site not yet onboarded expects nothing). An hour counts as expected when any
-- part of it lies in [max(start, onboarded_at), end).
WITH bounds AS (
    SELECT site_id, GREATEST(CAST(:start AS TIMESTAMP), onboarded_at) AS lower_ts
    FROM sites
    WHERE onboarded_at < :end
),
expected AS (
    SELECT site_id, lower_ts,
           (EXTRACT(EPOCH FROM date_trunc('hour', CAST(:end AS TIMESTAMP) - INTERVAL '1 microsecond'))
            - EXTRACT(EPOCH FROM date_trunc('hour', lower_ts))) / 3600 + 1 AS hours
    FROM bounds
),
received AS (
    SELECT h.site_id, COUNT(DISTINCT date_trunc('hour', h.ts)) AS hours
    FROM ingest_heartbeats h
    JOIN bounds b ON b.site_id = h.site_id
    WHERE h.ts >= b.lower_ts AND h.ts < :end
    GROUP BY h.site_id
),
per_site AS (
    SELECT e.site_id, LEAST(COALESCE(r.hours, 0), e.hours) AS received, e.hours AS expected
    FROM expected e LEFT JOIN received r ON r.site_id = e.site_id
)
SELECT site_id,
       100.0 * SUM(received) / NULLIF(SUM(expected), 0) AS value,
       SUM(expected) AS n,
       SUM(received) AS numerator,
       SUM(expected) AS denominator
FROM per_site
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
