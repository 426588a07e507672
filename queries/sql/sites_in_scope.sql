SELECT site_id, name, region, timezone, kind, onboarded_at
FROM sites WHERE site_id IN :sites ORDER BY kind, site_id
