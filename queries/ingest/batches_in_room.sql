-- Batches in a room at any time in [:since, :until]: the potential product impact of an excursion.
SELECT batch_id, started_at, completed_at
FROM batches
WHERE room_id = :room_id AND started_at <= :until AND (completed_at IS NULL OR completed_at >= :since)
ORDER BY started_at, batch_id
