-- Every CQA the release specification of one batch's product names, with the batch's result where
-- there is one (value NULL: not tested yet) and whether it is outside the specification.
SELECT s.cqa, s.lower_limit, s.upper_limit, s.unit, r.value, r.oos
FROM batches b
JOIN specifications s ON s.product = b.product
LEFT JOIN batch_cqa_results r ON r.batch_id = b.batch_id AND r.cqa = s.cqa
WHERE b.batch_id = :batch_id AND b.site_id IN :sites
ORDER BY s.cqa
