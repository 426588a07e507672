-- The hub's sites: an imported row naming another site is warned about before it is written.
SELECT site_id FROM sites
