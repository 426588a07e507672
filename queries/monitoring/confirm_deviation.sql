-- A confirmed proposal becomes a deviation under the same id; from now on it counts in the KPIs
-- (MTTD from the excursion's start to its detection by the system).
INSERT INTO deviations (deviation_id, site_id, batch_id, occurred_at, detected_at, severity, category,
                        root_cause_code, sop_id, source, human_factors, excursion_id, description)
SELECT deviation_id, site_id, batch_id, occurred_at, detected_at, severity, category, root_cause_code, sop_id,
       'excursion', 'none', excursion_id, description
FROM deviation_proposals
WHERE deviation_id = :deviation_id AND decision = 'confirmed'
