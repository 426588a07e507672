-- Benchmarks only: the whole raw table, for the in-memory pandas baseline.
SELECT * FROM deviations
