INSERT INTO audit_log (ts, user_id, action, object_type, object_id, reason, old_value, new_value,
                       meaning, prev_hash, entry_hash)
VALUES (:ts, :user_id, :action, :object_type, :object_id, :reason, :old_value, :new_value,
        :meaning, :prev_hash, :entry_hash)
