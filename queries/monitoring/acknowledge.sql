-- Sign off an excursion once: returns the row only if it was not acknowledged before.
UPDATE excursions
SET acknowledged_at = :acknowledged_at, acknowledged_by = :acknowledged_by, ack_comment = :ack_comment
WHERE excursion_id = :excursion_id AND acknowledged_at IS NULL
RETURNING excursion_id
