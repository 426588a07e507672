"""How values, statuses, trends and times are written on every page (one place for all of them)."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from queries.analyses.monitoring import UNIT_LABELS
from queries.kpi.catalog import Kpi

# Okabe-Ito colour-blind-safe palette; status is also carried by a symbol and a word.
STATUS = {
    "ok": ("✓", "On target", "status-ok"),
    "near": ("!", "Near target", "status-near"),
    "off": ("✕", "Off target", "status-off"),
    "none": ("–", "No data", "status-none"),
    "no_target": ("○", "No target", "status-none"),  # a value, but nothing to judge it against
}
SUPPRESSED_TEXT = "suppressed (< 5 respondents)"
# A batch's CQA verdict (queries/sql/site_batches.sql): untested is pending, never "within spec".
CQA_VERDICT_TEXT = {
    "oos": "✕ OOS",
    "pending": "… testing pending",
    "incomplete": "! results incomplete",
    "within_spec": "✓ within spec",
}


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def format_number(kpi: Kpi, value) -> str:
    if is_missing(value):
        return "–"
    return f"{value:,.{kpi.decimals}f}"


def shown_value(kpi: Kpi, value) -> float | None:
    """The value as printed: rounded to the KPI's decimals exactly as format_number rounds it."""
    if is_missing(value):
        return None
    return float(f"{float(value):.{kpi.decimals}f}")


def kpi_status(kpi: Kpi, value, *, suppressed: bool = False) -> str:
    """The status of a KPI value, for every view (tiles, grid, site table, kiosk, charts, exports).

    Decided on the value as shown, not on the unrounded one: 70.05 and 69.96 both print as "70" and
    both meet a target of >= 70, so a page never shows "✓ 70" beside "! 70". Keys of STATUS: 'ok',
    'near', 'off', 'none' (no value or suppressed), 'no_target' (a value the catalogue sets no target for)."""
    if suppressed or is_missing(value):
        return "none"
    if kpi.target is None:
        return "no_target"
    return kpi.status(shown_value(kpi, value))


def status_parts(kpi: Kpi, value, *, suppressed: bool = False) -> tuple[str, str, str]:
    """(symbol, word, css class) of kpi_status."""
    return STATUS[kpi_status(kpi, value, suppressed=suppressed)]


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


def iso_time(ts, timezone: str = "UTC", *, timespec: str = "seconds") -> str | None:
    """An exported time: ISO 8601 with its UTC offset, in `timezone` ('2026-11-20T02:31:00-06:00').

    A naive time is a stored one, so UTC (design: every timestamp is stored in UTC); an aware one is
    converted. None for a missing time."""
    if ts is None or pd.isna(ts):
        return None
    moment = pd.Timestamp(ts)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
    return moment.tz_convert(ZoneInfo(timezone)).isoformat(timespec=timespec)


def utc_label(ts: datetime | None) -> str:
    if ts is None:
        return "no data yet"
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M UTC")


def format_reading(value, parameter: str, unit: str) -> str:
    """A sensor value (reading, peak) with its unit: '352,000 /m³', '21.50 °C'."""
    if is_missing(value):
        return "–"
    label = UNIT_LABELS.get(unit, unit)
    if parameter.startswith("particles"):
        return f"{value:,.0f} {label}"
    return f"{value:.1f} {label}" if parameter != "temperature" else f"{value:.2f} {label}"
