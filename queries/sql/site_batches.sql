-- Batches of the scoped sites started in the window, newest first, with an OOS flag.
SELECT b.batch_id, b.site_id, b.product, b.process_version, b.started_at, b.released_at, b.status,
       b.viability_pct, b.transduction_pct, b.cd3_pct, b.vcn, b.dose, b.endotoxin_eu_ml,
       EXISTS (SELECT 1 FROM batch_cqa_results r WHERE r.batch_id = b.batch_id AND r.oos) AS oos
FROM batches b
WHERE b.site_id IN :sites AND b.started_at >= :start AND b.started_at < :end
ORDER BY b.started_at DESC
