-- One signature on a validation report; the primary key refuses a second one of the same meaning.
INSERT INTO validation_signatures (report_id, meaning, signed_by, signed_at, json_sha256, comment)
VALUES (:report_id, :meaning, :signed_by, :signed_at, :json_sha256, :comment)
