-- When a file with this SHA-256 was imported into the table: the import's audit entry (committed with its
-- rows) names the hash, so the drop folder never imports the same file twice.
SELECT MAX(ts) AS imported_at FROM audit_log
WHERE action = 'import' AND object_type = :table AND new_value LIKE :pattern
