-- Products with a release specification, the most manufactured first (for the product pickers).
SELECT s.product, COUNT(b.batch_id) AS batches
FROM (SELECT DISTINCT product FROM specifications) s
LEFT JOIN batches b ON b.product = s.product
GROUP BY s.product
ORDER BY batches DESC, s.product
