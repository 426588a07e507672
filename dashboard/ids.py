"""Every component id of the app, in one place; pattern-matching ids are dicts built here."""

from __future__ import annotations

URL = "url"
NAVBAR = "navbar"

# overview
OV_WINDOW = "overview-window"
OV_TILES = "overview-tiles"
OV_GRID = "overview-grid"
OV_AS_OF = "overview-as-of"

# site drill-down
SITE_ID_STORE = "site-id"
SITE_WINDOW = "site-window"
SITE_BODY = "site-body"
SITE_AS_OF = "site-as-of"

KPI_TILE = "kpi-tile"


def kpi_tile(kpi_id: str) -> dict:
    return {"type": KPI_TILE, "kpi": kpi_id}
