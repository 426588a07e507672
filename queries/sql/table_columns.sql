-- Columns of the hub's own tables, for the bulk-insert whitelist.
SELECT table_name, column_name
FROM information_schema.columns
WHERE table_schema IN ('main', 'public')
