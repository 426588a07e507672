-- What the live tiles have to show: sensors with a latest value, excursions not yet ended.
SELECT (SELECT COUNT(*) FROM sensor_latest) AS latest,
       (SELECT COUNT(*) FROM excursions WHERE ended_at IS NULL) AS open_excursions,
       (SELECT COUNT(*) FROM excursions) AS excursions
