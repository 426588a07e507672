-- Batches of the scoped sites started in the window, newest first, with their CQA verdict:
-- 'oos' (a result outside its specification), 'pending' (no result recorded yet), 'incomplete' (some
-- specified CQAs without a result, none outside) or 'within_spec' (every specified CQA recorded and
-- within). A batch without results is never within specification.
SELECT b.batch_id, b.site_id, b.product, b.process_version, b.started_at, b.released_at, b.status,
       b.viability_pct, b.transduction_pct, b.cd3_pct, b.vcn, b.dose, b.endotoxin_eu_ml,
       EXISTS (SELECT 1 FROM batch_cqa_results r WHERE r.batch_id = b.batch_id AND r.oos) AS oos,
       CASE WHEN EXISTS (SELECT 1 FROM batch_cqa_results r WHERE r.batch_id = b.batch_id AND r.oos) THEN 'oos'
            WHEN NOT EXISTS (SELECT 1 FROM batch_cqa_results r WHERE r.batch_id = b.batch_id) THEN 'pending'
            WHEN (SELECT count(*) FROM batch_cqa_results r WHERE r.batch_id = b.batch_id)
                 < (SELECT count(*) FROM specifications s WHERE s.product = b.product) THEN 'incomplete'
            ELSE 'within_spec' END AS cqa_verdict
FROM batches b
WHERE b.site_id IN :sites AND b.started_at >= :start AND b.started_at < :end
ORDER BY b.started_at DESC
