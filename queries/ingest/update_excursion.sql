-- Late or continuing readings move start, end and peak; acknowledgement fields are never touched here.
UPDATE excursions SET started_at = :started_at, ended_at = :ended_at, peak = :peak
WHERE excursion_id = :excursion_id
