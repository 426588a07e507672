-- KPI batch_record_completeness: completed batches with all six CQAs recorded.
SELECT site_id,
       100.0 * SUM(CASE WHEN viability_pct IS NOT NULL AND transduction_pct IS NOT NULL
                         AND cd3_pct IS NOT NULL AND vcn IS NOT NULL AND dose IS NOT NULL
                         AND endotoxin_eu_ml IS NOT NULL THEN 1 ELSE 0 END) / NULLIF(COUNT(*), 0) AS value,
       COUNT(*) AS n,
       SUM(CASE WHEN viability_pct IS NOT NULL AND transduction_pct IS NOT NULL
                 AND cd3_pct IS NOT NULL AND vcn IS NOT NULL AND dose IS NOT NULL
                 AND endotoxin_eu_ml IS NOT NULL THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM batches
WHERE completed_at >= :start AND completed_at < :end
GROUP BY ROLLUP (site_id)
HAVING (GROUPING(site_id) = 1 AND :network) OR site_id IN :sites
