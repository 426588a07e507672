SELECT shift_id, site_id, days, starts, ends, recipient, active, created_by, created_at
FROM on_call_shifts ORDER BY site_id, days, starts, shift_id
