-- KPI mttd: hours from occurrence to detection over the deviations detected in the window (by
-- detection date: a deviation has no record before it is found, so an occurrence window would read
-- low); excursion-sourced deviations count from the excursion start. found_late: detected in the
-- window, occurred before it. One row per site in scope, plus the network row (site_id NULL).
WITH d AS (
    SELECT dv.site_id,
           EXTRACT(EPOCH FROM (dv.detected_at - COALESCE(ex.started_at, dv.occurred_at))) / 3600.0 AS hours,
           CASE WHEN COALESCE(ex.started_at, dv.occurred_at) < :start THEN 1 ELSE 0 END AS before_window
    FROM deviations dv
    LEFT JOIN excursions ex ON ex.excursion_id = dv.excursion_id
    WHERE dv.detected_at >= :start AND dv.detected_at < :end
)
SELECT site_id,
       SUM(hours) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(hours) AS numerator,
       COUNT(*) AS denominator,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_h,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_h,
       SUM(before_window) AS found_late
FROM d
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
