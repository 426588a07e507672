-- Benchmarks only: how many readings are stored.
SELECT COUNT(*) AS n FROM readings
