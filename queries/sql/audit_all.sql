SELECT entry_id, ts, user_id, action, object_type, object_id, reason, old_value, new_value, meaning,
       prev_hash, entry_hash
FROM audit_log ORDER BY entry_id
