-- Per pseudonymous operator in training before the window starts (so each was exposed the whole
-- window): mean first-attempt certification score (attempts before the window end) and deviations they
-- were involved in (detected in the window). Operators of every site come back
-- when the network aggregate is allowed (in_scope says which may be shown); only aggregates of the
-- others may ever leave queries/analyses/people.py.
WITH scores AS (
    SELECT site_id, operator_ref, AVG(score) AS mean_first_score, COUNT(*) AS modules
    FROM training_records
    WHERE attempt_no = 1 AND attempt_at < :end
    GROUP BY site_id, operator_ref
    HAVING MIN(started_at) < :start
),
involvement AS (
    SELECT site_id, operator_ref, COUNT(*) AS deviations
    FROM deviations
    WHERE operator_ref IS NOT NULL AND detected_at >= :start AND detected_at < :end
    GROUP BY site_id, operator_ref
)
SELECT s.site_id, s.operator_ref, s.mean_first_score, s.modules, COALESCE(i.deviations, 0) AS deviations,
       s.site_id IN :sites AS in_scope
FROM scores s
LEFT JOIN involvement i ON i.site_id = s.site_id AND i.operator_ref = s.operator_ref
WHERE s.site_id IN :sites OR :network
ORDER BY s.site_id, s.operator_ref
