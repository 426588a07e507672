-- Every display token, without its hash; last_used: the latest sign-in with it (dashboard/kiosk_auth.py
-- audits each one as display_token_login).
SELECT t.token_id, t.user_id, t.label, t.created_at, t.created_by, t.revoked_at, t.revoked_by,
       (SELECT MAX(a.ts) FROM audit_log a
        WHERE a.action = 'display_token_login' AND a.object_type = 'display_token'
          AND a.object_id = t.token_id) AS last_used
FROM display_tokens t ORDER BY t.created_at, t.token_id
