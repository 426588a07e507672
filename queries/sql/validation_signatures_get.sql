-- The signatures on one validation report, in the order they were made.
SELECT report_id, meaning, signed_by, signed_at, json_sha256, comment
FROM validation_signatures
WHERE report_id = :report_id
ORDER BY signed_at
