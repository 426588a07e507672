"""Imports: data coming in (file imports, survey imports, the live ingest's writes)."""
