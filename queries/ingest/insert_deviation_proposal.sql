-- The deviation an action-level excursion proposes; occurred_at = excursion start (MTTD counts from it).
INSERT INTO deviations (deviation_id, site_id, batch_id, occurred_at, detected_at, severity, category,
                        root_cause_code, sop_id, source, human_factors, excursion_id, description)
VALUES (:deviation_id, :site_id, :batch_id, :occurred_at, :detected_at, :severity, 'environment',
        :root_cause_code, :sop_id, 'excursion', 'none', :excursion_id, :description)
