-- Excursions of the scoped sites that were open at any time in [:since, :until), open ones first, with
-- the sensor's unit and the state of the deviation each proposed (NULL decision: still a proposal).
SELECT e.excursion_id, e.site_id, e.room_id, r.name AS room_name, r.grade, e.sensor_id, e.parameter,
       e.level, e.started_at, e.detected_at, e.ended_at, e.peak, s.unit, e.acknowledged_at, e.acknowledged_by,
       e.ack_comment, e.deviation_id, p.decision AS deviation_decision
FROM excursions e
JOIN rooms r ON r.room_id = e.room_id
JOIN sensors s ON s.sensor_id = e.sensor_id
LEFT JOIN deviation_proposals p ON p.deviation_id = e.deviation_id
WHERE e.site_id IN :sites AND (e.ended_at IS NULL OR e.ended_at >= :since) AND e.started_at < :until
ORDER BY CASE WHEN e.ended_at IS NULL THEN 0 ELSE 1 END, e.started_at DESC, e.excursion_id
LIMIT 500
