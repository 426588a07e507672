-- Columns of the hub's own base tables (not views), for the bulk-insert whitelist.
SELECT c.table_name, c.column_name
FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema
WHERE c.table_schema IN ('main', 'public') AND t.table_type = 'BASE TABLE'
