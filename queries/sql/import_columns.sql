-- Declared columns of one table, for import validation (types as the warehouse reports them).
SELECT column_name, data_type, is_nullable, column_default IS NOT NULL AS has_default
FROM information_schema.columns
WHERE table_name = :table_name AND table_schema IN ('main', 'public')
ORDER BY ordinal_position
