-- CQA results of the scoped sites' completed batches, all history up to the window end: the I-MR charts
-- need the Phase I baseline (first batches of each site, product and process version) even when it
-- lies before the window.
SELECT batch_id, site_id, product, process_version, started_at, completed_at,
       viability_pct, transduction_pct, cd3_pct, vcn, dose, endotoxin_eu_ml
FROM batches
WHERE site_id IN :sites AND completed_at IS NOT NULL AND completed_at < :end
ORDER BY site_id, product, process_version, started_at, batch_id
