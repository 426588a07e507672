-- A late reading moved the excursion's start earlier: the proposed deviation follows it while it is
-- undecided (a confirmed deviation is a signed record: the confirmation fixed its times).
UPDATE deviation_proposals SET occurred_at = :occurred_at
WHERE excursion_id = :excursion_id AND decision IS NULL
