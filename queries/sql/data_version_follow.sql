-- A new version of one data domain unless it changed less than a moment ago (live writes coalesced).
INSERT INTO data_versions (domain, version, changed_at) VALUES (:domain, :version, :changed_at)
ON CONFLICT (domain) DO UPDATE SET version = excluded.version, changed_at = excluded.changed_at
WHERE data_versions.changed_at < :older_than
