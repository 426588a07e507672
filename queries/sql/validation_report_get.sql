-- One registered validation report by id (none when the id is unknown).
SELECT report_id, created_at, registered_at, registered_by, report_dir, json_sha256, pdf_sha256, verdict,
       deviations, requirements, verified, verifiable, git_commit
FROM validation_reports
WHERE report_id = :report_id
