-- Every registered validation report, newest first.
SELECT report_id, created_at, registered_at, registered_by, report_dir, json_sha256, pdf_sha256, verdict,
       deviations, requirements, verified, verifiable, git_commit
FROM validation_reports
ORDER BY created_at DESC, report_id
