-- PostgreSQL only: no statement timeout inside this one bulk transaction.
SET LOCAL statement_timeout = 0
