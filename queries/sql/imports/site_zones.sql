-- Every site's IANA time zone: an import profile reads times without an offset in the row's site's zone.
SELECT site_id, timezone FROM sites ORDER BY site_id
