-- Every site's deviations that occurred between :start and :end. Systemic signals are cross-site by
-- nature and the risk model learns from the network; queries/analyses/signals.py shows another site's
-- deviations only to users whose scope holds that site, and to others only as counts.
SELECT deviation_id, site_id, batch_id, occurred_at, detected_at, severity, category, root_cause_code,
       sop_id, source, description
FROM deviations
WHERE occurred_at >= :start AND occurred_at < :end
ORDER BY occurred_at, deviation_id
