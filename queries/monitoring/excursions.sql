-- Excursions of the scoped sites that were open at any time in [:since, :until), open ones first, with
-- the sensor's unit and the state of the deviation each raised: 'confirmed' when it is a recorded deviation
-- (confirmed from a proposal, or recorded directly), else the proposal's decision (NULL: still a proposal).
SELECT e.excursion_id, e.site_id, e.room_id, r.name AS room_name, r.grade, e.sensor_id, e.parameter,
       e.level, e.started_at, e.detected_at, e.ended_at, e.peak, s.unit, e.acknowledged_at, e.acknowledged_by,
       e.ack_comment, e.deviation_id,
       CASE WHEN d.deviation_id IS NOT NULL THEN 'confirmed' ELSE p.decision END AS deviation_decision
FROM excursions e
JOIN rooms r ON r.room_id = e.room_id
JOIN sensors s ON s.sensor_id = e.sensor_id
LEFT JOIN deviation_proposals p ON p.deviation_id = e.deviation_id
LEFT JOIN deviations d ON d.deviation_id = e.deviation_id
WHERE e.site_id IN :sites AND (e.ended_at IS NULL OR e.ended_at >= :since) AND e.started_at < :until
ORDER BY CASE WHEN e.ended_at IS NULL THEN 0 ELSE 1 END, e.started_at DESC, e.excursion_id
LIMIT 500
