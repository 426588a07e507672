-- A late reading moved the excursion's start earlier: the proposed deviation follows it.
UPDATE deviations SET occurred_at = :occurred_at
WHERE excursion_id = :excursion_id AND source = 'excursion'
