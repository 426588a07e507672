-- Controlled documents at a site version behind the master at :end, every site (for systemic
-- signals: the same SOP failing at sites that both run an old version points at the procedure roll-out).
SELECT doc_id, site_id, title, master_version, site_version
FROM documents
WHERE site_version < master_version AND master_effective_at < :end
ORDER BY doc_id, site_id
