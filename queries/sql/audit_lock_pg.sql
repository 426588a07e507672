-- PostgreSQL only: serialise audit appends across workers so the hash chain has one order.
SELECT pg_advisory_xact_lock(727274)
