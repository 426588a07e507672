-- The PRIMARY KEY and UNIQUE constraints of one table and their columns (in key order), so an import
-- names the rows whose key repeats one earlier in the file or one already in the warehouse.
SELECT tc.constraint_name, tc.constraint_type, k.column_name
FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage k
  ON k.constraint_schema = tc.constraint_schema AND k.constraint_name = tc.constraint_name
 AND k.table_name = tc.table_name
WHERE tc.table_name = :table_name AND tc.table_schema IN ('main', 'public')
  AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
ORDER BY tc.constraint_type, tc.constraint_name, k.ordinal_position
