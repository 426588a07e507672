-- PostgreSQL only: indexes on readings other than constraints (dropped for a bulk load, then rebuilt).
SELECT i.indexname, i.indexdef
FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename = 'readings'
  AND i.indexname NOT IN (SELECT c.conname FROM pg_constraint c WHERE c.conrelid = CAST('readings' AS regclass))
ORDER BY i.indexname
