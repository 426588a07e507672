SELECT entry_id, entry_hash FROM audit_log ORDER BY entry_id DESC LIMIT 1
