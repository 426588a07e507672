-- Every signature on validation reports, in the order they were made.
SELECT report_id, meaning, signed_by, signed_at, json_sha256, comment
FROM validation_signatures
ORDER BY signed_at, report_id
