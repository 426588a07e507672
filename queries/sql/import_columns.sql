-- Declared columns of one table, for import validation (types as the warehouse reports them). An empty
-- cell in a NOT NULL column with a default takes the default (column_default, as the warehouse shows it).
SELECT column_name, data_type, is_nullable, column_default IS NOT NULL AS has_default, column_default
FROM information_schema.columns
WHERE table_name = :table_name AND table_schema IN ('main', 'public')
ORDER BY ordinal_position
