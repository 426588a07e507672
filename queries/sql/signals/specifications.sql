-- Release specification per product and CQA: the only source of specification limits.
SELECT product, cqa, lower_limit, upper_limit, unit
FROM specifications
ORDER BY product, cqa
