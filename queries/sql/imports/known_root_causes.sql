-- The root-cause codes the hub's deviations already use: a new code in an import is warned about (a typo
-- or another vocabulary splits one cause in two and hides its recurrence).
SELECT DISTINCT root_cause_code FROM deviations
