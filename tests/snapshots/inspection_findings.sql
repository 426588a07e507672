-- KPI inspection_findings: findings per inspection held in the window, with classification counts.
SELECT site_id,
       1.0 * SUM(findings_critical + findings_major + findings_minor) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(findings_critical + findings_major + findings_minor) AS numerator,
       COUNT(*) AS denominator,
       SUM(findings_critical) AS critical,
       SUM(findings_major) AS major,
       SUM(CASE WHEN classification = 'OAI' THEN 1 ELSE 0 END) AS oai
FROM inspections
WHERE inspected_on >= CAST(:start AS DATE) AND inspected_on < CAST(:end AS DATE)
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
