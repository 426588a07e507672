-- PostgreSQL only, inside a bulk load's transaction: memory for each chunk's rollup aggregation.
SET LOCAL work_mem = '256MB'
