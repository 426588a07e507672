-- Register one validation report by its files' hashes; the primary key refuses a second registration.
INSERT INTO validation_reports (report_id, created_at, registered_at, registered_by, report_dir, json_sha256,
                                pdf_sha256, verdict, deviations, requirements, verified, verifiable, git_commit)
VALUES (:report_id, :created_at, :registered_at, :registered_by, :report_dir, :json_sha256, :pdf_sha256,
        :verdict, :deviations, :requirements, :verified, :verifiable, :git_commit)
