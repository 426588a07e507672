-- CQA results of every site's completed batches between :start and :end (by start). Deliberately not
-- limited to the user's sites: the risk model and the comparability references learn from the whole
-- network; only aggregates and the user's own sites leave the query layer (queries/analyses/risk.py,
-- queries/analyses/comparability.py).
SELECT batch_id, site_id, product, process_version, started_at, completed_at,
       viability_pct, transduction_pct, cd3_pct, vcn, dose, endotoxin_eu_ml
FROM batches
WHERE started_at >= :start AND started_at < :end
ORDER BY site_id, product, process_version, started_at, batch_id
