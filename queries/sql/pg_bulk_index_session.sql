-- PostgreSQL only, inside a bulk load's transaction: memory for rebuilding indexes after the load.
SET LOCAL maintenance_work_mem = '1GB'
