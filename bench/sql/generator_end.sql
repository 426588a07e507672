-- Benchmarks only: the end of a generated sample history (pins 'now' for page timings).
SELECT value FROM schema_info WHERE key = 'generator_end'
