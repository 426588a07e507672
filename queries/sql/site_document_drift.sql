-- Controlled documents whose site version lags the hub's master version, and for how long.
SELECT doc_id, site_id, title, master_version, site_version, master_effective_at, site_effective_at,
       EXTRACT(EPOCH FROM (CAST(:end AS TIMESTAMP) - master_effective_at)) / 86400.0 AS days_behind
FROM documents
WHERE site_id IN :sites AND site_version < master_version AND master_effective_at < :end
ORDER BY master_effective_at
