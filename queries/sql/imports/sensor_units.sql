-- The hub's sensors with the unit they measure in and their site: an imported reading must name one of
-- them, in its unit (and, for a site manager, of the own site).
SELECT sensor_id, unit, site_id FROM sensors
