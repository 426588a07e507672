-- Every site with its onboarding date: which sites the risk model may score at a given month.
SELECT site_id, onboarded_at FROM sites ORDER BY site_id
