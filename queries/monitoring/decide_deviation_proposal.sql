-- Decide an excursion's proposed deviation once (the acknowledging signature carries the decision):
-- returns the row only if it was undecided.
UPDATE deviation_proposals
SET decision = :decision, decided_by = :decided_by, decided_at = :decided_at
WHERE excursion_id = :excursion_id AND decision IS NULL
RETURNING deviation_id
