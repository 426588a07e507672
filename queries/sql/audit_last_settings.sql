-- The settings snapshot recorded last (queries/records/settings_audit.py compares the running settings with it).
SELECT new_value FROM audit_log WHERE action = 'settings_changed' ORDER BY entry_id DESC LIMIT 1
