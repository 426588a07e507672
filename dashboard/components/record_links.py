"""Links to the record pages (/deviation/, /batch/, /capa/, /excursion/<id>): every id a page shows is one click from its
record. The record page checks the reader's scope; a link is never the permission."""

from __future__ import annotations

from urllib.parse import quote

from dash import dcc

from dashboard.components.formatting import is_missing

RECORD_PATHS = {"deviation": "/deviation/", "batch": "/batch/", "capa": "/capa/", "excursion": "/excursion/"}


def record_href(kind: str, record_id: str) -> str:
    return RECORD_PATHS[kind] + quote(str(record_id), safe="")


def record_link(kind: str, record_id):
    """The id as a link to its record; a missing id stays a dash."""
    if is_missing(record_id):
        return "–"
    return dcc.Link(str(record_id), href=record_href(kind, record_id), className="record-link")
