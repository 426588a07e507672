-- A site's active shifts and its time zone, to find who is on call at a moment.
SELECT sh.shift_id, sh.days, sh.starts, sh.ends, sh.recipient, st.timezone
FROM sites st
LEFT JOIN on_call_shifts sh ON sh.site_id = st.site_id AND sh.active
WHERE st.site_id = :site_id
ORDER BY sh.shift_id
