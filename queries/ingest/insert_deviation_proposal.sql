-- The deviation an action-level excursion proposes (a proposal until a person confirms it: it counts in
-- no KPI before that); occurred_at = excursion start (MTTD counts from it once confirmed).
INSERT INTO deviation_proposals (deviation_id, excursion_id, site_id, batch_id, occurred_at, detected_at,
                                 severity, category, root_cause_code, sop_id, description)
VALUES (:deviation_id, :excursion_id, :site_id, :batch_id, :occurred_at, :detected_at, :severity, 'environment',
        :root_cause_code, :sop_id, :description)
