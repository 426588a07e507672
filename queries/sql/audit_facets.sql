-- Distinct users and actions in the audit trail, for the audit page's filter menus.
SELECT 'action' AS facet, action AS value FROM audit_log GROUP BY action
UNION ALL
SELECT 'user' AS facet, user_id AS value FROM audit_log WHERE user_id IS NOT NULL GROUP BY user_id
ORDER BY facet, value
