-- Health check: the warehouse answers.
SELECT 1 AS ok
