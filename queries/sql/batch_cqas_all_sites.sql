-- CQAs of every site's batches started in the window: the network reference for the consistency
-- score. Deliberately not limited to the user's sites; only aggregates of other sites leave the
-- query layer (queries.kpi.kpis filters per-site results to the scope).
SELECT site_id, product, viability_pct, transduction_pct, cd3_pct, vcn, dose, endotoxin_eu_ml
FROM batches
WHERE started_at >= :start AND started_at < :end AND completed_at IS NOT NULL
