"""Live value tiles of one site: a card per room, a row per sensor against its alert/action bands.

A sensor silent for longer than the stale limit shows "Stale" and its last value only as history
("last 21.3 °C, 4 min ago"), never as if it were current.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from dashboard.components.excursion_tiles import format_age, level_badge
from dashboard.components.formatting import format_reading, to_local
from queries.analyses.monitoring import PARAMETER_LABELS, UNIT_LABELS

BAND_STYLE = {
    "ok": ("✓", "Within limits", "status-ok"),
    "alert": ("!", "Alert level", "status-near"),
    "action": ("✕", "Action level", "status-off"),
    "stale": ("⏸", "Stale", "status-none"),
    "none": ("–", "No live data", "status-none"),
}


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def limits_text(row: dict) -> str:
    """'alert > 21.5 · action > 22 (limits are within)' in the sensor's unit."""
    unit = UNIT_LABELS.get(row["unit"], row["unit"])
    parts = []
    for level in ("alert", "action"):
        low, high = row.get(f"{level}_low"), row.get(f"{level}_high")
        bounds = []
        if not _missing(low):
            bounds.append(f"< {low:g}")
        if not _missing(high):
            bounds.append(f"> {high:g}")
        if bounds:
            parts.append(f"{level} {' or '.join(bounds)} {unit}")
    return " · ".join(parts) if parts else "no limits set"


def sensor_row(row: dict, tz: str) -> html.Tr:
    status = "none" if _missing(row["latest_ts"]) else ("stale" if row["stale"] else row["band"])
    symbol, word, css = BAND_STYLE[status]
    if status == "stale":
        value_cell = html.Td([html.Span("Stale", className="fw-semibold"), html.Br(),
                              html.Small(f"last {format_reading(row['latest_value'], row['parameter'], row['unit'])}, "
                                         f"{format_age(row['age_s'])} ago", className="text-body-secondary")],
                             className="live-value stale")
    else:
        value_cell = html.Td(format_reading(row["latest_value"], row["parameter"], row["unit"]),
                             className="live-value fw-semibold")
    excursion = html.Td("–")
    if not _missing(row.get("open_level")):
        level = "action" if int(row["open_level"]) == 2 else "alert"
        excursion = html.Td([level_badge(level), html.Br(),
                             html.Small(f"since {to_local(row['open_since'], tz)}")])
    age = "–" if _missing(row["latest_ts"]) else f"{format_age(row['age_s'])} ago"
    return html.Tr([
        html.Th(PARAMETER_LABELS.get(row["parameter"], row["parameter"]), scope="row"),
        value_cell,
        html.Td([html.Span(symbol, className="status-symbol", **{"aria-hidden": "true"}), f" {word}"],
                className=css),
        html.Td(limits_text(row), className="small"),
        excursion,
        html.Td(age, className="small"),
    ], id={"type": "live-sensor", "sensor": row["sensor_id"]}, className=f"live-{status}")


def room_cards(frame: pd.DataFrame, tz: str) -> list:
    if frame.empty:
        return [html.P("No sensors registered at this site.")]
    cards = []
    for (room_id, room_name, grade), sensors in frame.groupby(["room_id", "room_name", "grade"], sort=True):
        head = html.Thead(html.Tr([html.Th(h, scope="col") for h in
                                   ("Parameter", "Value", "Status", "Limits", "Open excursion", "Last reading")]))
        rows = [sensor_row(r, tz) for r in sensors.to_dict("records")]
        worst = _worst(sensors)
        cards.append(dbc.Card([
            dbc.CardHeader([html.Strong(room_name), f" · grade {grade} · {room_id}"]),
            dbc.CardBody(dbc.Table([head, html.Tbody(rows)], size="sm", className="mb-0 align-middle",
                                   responsive=True)),
        ], className=f"room-card mb-3 {BAND_STYLE[worst][2]}-border", id={"type": "room-card", "room": room_id}))
    return cards


def _worst(sensors: pd.DataFrame) -> str:
    fresh = sensors[~sensors["stale"]]
    for status in ("action", "alert"):
        if (fresh["band"] == status).any():
            return status
    if sensors["stale"].any():
        return "stale"
    return "ok"
