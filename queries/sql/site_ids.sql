-- Every site id: the universe the server builds scopes from (never shown as such).
SELECT site_id FROM sites ORDER BY site_id
