"""How values, statuses, trends and times are written on every page (one place for all of them)."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from queries.catalog import Kpi

# Okabe-Ito colour-blind-safe palette; status is also carried by a symbol and a word.
STATUS = {
    "ok": ("✓", "On target", "status-ok"),
    "near": ("!", "Near target", "status-near"),
    "off": ("✕", "Off target", "status-off"),
    "none": ("–", "No data", "status-none"),
}
SUPPRESSED_TEXT = "suppressed (< 5 respondents)"


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def format_number(kpi: Kpi, value) -> str:
    if is_missing(value):
        return "–"
    return f"{value:,.{kpi.decimals}f}"


def format_value(kpi: Kpi, value) -> str:
    if is_missing(value):
        return "no data"
    unit = kpi.unit
    if unit == "%":
        return f"{format_number(kpi, value)} %"
    if unit == "/100":
        return f"{format_number(kpi, value)} / 100"
    return f"{format_number(kpi, value)} {unit}"


def format_target(kpi: Kpi) -> str:
    if kpi.target is None:
        return "no target"
    comparator = "≤" if kpi.better == "lower" else "≥"
    return f"target {comparator} {format_value(kpi, kpi.target)}"


def trend_text(kpi: Kpi, value, previous, days: int) -> tuple[str, str]:
    """('▲ +1.2 vs previous 90 days · better', css class)."""
    if is_missing(value) or is_missing(previous):
        return f"no comparison with the previous {days} days", "trend-none"
    delta = value - previous
    if abs(delta) < 10 ** (-kpi.decimals) / 2:
        return f"= unchanged vs previous {days} days", "trend-flat"
    arrow = "▲" if delta > 0 else "▼"
    verdict = "better" if kpi.improved(value, previous) else "worse"
    return f"{arrow} {delta:+,.{kpi.decimals}f} vs previous {days} days · {verdict}", f"trend-{verdict}"


def to_local(ts, timezone: str) -> str:
    """A stored UTC time written in the site's zone, with the zone's abbreviation."""
    if is_missing(ts) or ts is pd.NaT:
        return "–"
    moment = pd.Timestamp(ts).tz_localize("UTC").tz_convert(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def utc_label(ts: datetime | None) -> str:
    if ts is None:
        return "no data yet"
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M UTC")
