-- Audit trail entries for the audit page, newest first. Empty-string filters mean "any" (a typed
-- sentinel: PostgreSQL cannot infer the type of a bare NULL parameter). The object filter is a plain
-- substring match (POSITION, not LIKE: a typed % or _ is a character, not a wildcard).
SELECT entry_id, ts, user_id, action, object_type, object_id, reason, old_value, new_value, meaning,
       prev_hash, entry_hash
FROM audit_log
WHERE ts >= :since AND ts < :until
  AND (:user_id = '' OR user_id = :user_id)
  AND (:action = '' OR action = :action)
  AND (:object_text = '' OR POSITION(LOWER(:object_text) IN
                             LOWER(COALESCE(object_type, '') || ' ' || COALESCE(object_id, ''))) > 0)
ORDER BY entry_id DESC
LIMIT :limit
