-- KPI cert_pass_rate: first certification attempts (attempt_no = 1) made in the window that passed.
SELECT site_id,
       100.0 * SUM(CASE WHEN passed THEN 1 ELSE 0 END) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(CASE WHEN passed THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM training_records
WHERE attempt_no = 1 AND attempt_at >= :start AND attempt_at < :end
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
