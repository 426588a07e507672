-- Who is in each training group of the window, for the small-group rule only (never shown): per site,
-- module and pseudonymous operator, whether they made their first certification attempt in the window
-- (first_attempt) and whether they were certified in the window (certified), by the same definitions as
-- people_training_modules.sql. Operators of every site come back when the network aggregate is allowed
-- (in_scope says which sites the scope may show); these rows never leave queries/analyses/people.py.
WITH first_attempts AS (
    SELECT DISTINCT site_id, module, operator_ref
    FROM training_records
    WHERE attempt_no = 1 AND attempt_at >= :start AND attempt_at < :end
),
certified AS (
    SELECT site_id, module, operator_ref
    FROM training_records
    GROUP BY site_id, operator_ref, module
    HAVING MAX(certified_at) >= :start AND MAX(certified_at) < :end
),
members AS (
    SELECT COALESCE(f.site_id, c.site_id) AS site_id, COALESCE(f.module, c.module) AS module,
           COALESCE(f.operator_ref, c.operator_ref) AS operator_ref,
           f.operator_ref IS NOT NULL AS first_attempt, c.operator_ref IS NOT NULL AS certified
    FROM first_attempts f
    FULL OUTER JOIN certified c
      ON c.site_id = f.site_id AND c.module = f.module AND c.operator_ref = f.operator_ref
)
SELECT site_id, module, operator_ref, first_attempt, certified, site_id IN :sites AS in_scope
FROM members
WHERE site_id IN :sites OR :network
ORDER BY site_id, module, operator_ref
