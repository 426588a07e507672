-- Improvement programmes (e.g. coaching) at the scoped sites, for annotations.
SELECT programme_id, site_id, kind, started_at, description
FROM programmes WHERE site_id IN :sites AND started_at < :end ORDER BY started_at
