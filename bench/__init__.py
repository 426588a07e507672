"""Benchmarks of the hub at network scale (`make bench`) and the wall-display load test (`make load`)."""
