-- PostgreSQL only: the indexes a bulk load of generated readings sets aside and rebuilds afterwards
-- (one sort each instead of an index insert per row): every index on readings except its constraints
-- (rows arrive sorted by the primary key, so its inserts are appends), and every index on
-- reading_rollups including its primary key (rows arrive in hash-aggregate order: each insert would
-- land on a random page; at the small scale that made the load 2.5 times slower).
SELECT t.relname AS table_name, i.relname AS index_name, con.oid IS NOT NULL AS is_constraint,
       COALESCE(pg_get_constraintdef(con.oid), pg_get_indexdef(i.oid)) AS definition
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = t.oid
WHERE t.oid IN (CAST('readings' AS regclass), CAST('reading_rollups' AS regclass))
  AND (t.relname = 'reading_rollups' OR con.oid IS NULL)
ORDER BY t.relname, con.oid IS NULL, i.relname
