-- Every schema_info entry (generator stamp: seed, scale, end, story dates).
SELECT key, value FROM schema_info
