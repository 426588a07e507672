-- A new version of one data domain, written inside the transaction that changed its data.
INSERT INTO data_versions (domain, version, changed_at) VALUES (:domain, :version, :changed_at)
ON CONFLICT (domain) DO UPDATE SET version = excluded.version, changed_at = excluded.changed_at
