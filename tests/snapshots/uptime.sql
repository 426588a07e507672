-- KPI uptime: hours with at least one gateway heartbeat / hours in the window since the site's
-- onboarding (a site not yet onboarded expects nothing).
WITH expected AS (
    SELECT site_id,
           GREATEST(EXTRACT(EPOCH FROM (CAST(:end AS TIMESTAMP) - GREATEST(CAST(:start AS TIMESTAMP), onboarded_at))), 0)
               / 3600.0 AS hours
    FROM sites
),
received AS (
    SELECT site_id, COUNT(DISTINCT date_trunc('hour', ts)) AS hours
    FROM ingest_heartbeats
    WHERE ts >= :start AND ts < :end
    GROUP BY site_id
),
per_site AS (
    SELECT e.site_id, COALESCE(r.hours, 0) AS received, FLOOR(e.hours) AS expected
    FROM expected e LEFT JOIN received r ON r.site_id = e.site_id
    WHERE e.hours > 0
)
SELECT site_id,
       100.0 * SUM(received) / NULLIF(SUM(expected), 0) AS value,
       SUM(expected) AS n,
       SUM(received) AS numerator,
       SUM(expected) AS denominator
FROM per_site
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
