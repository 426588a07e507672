"""Drift early warning for every sensor in a scope: EWMA/CUSUM on daily means, warnings, lead times."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np
import pandas as pd

from queries.engine import data_version
from queries.engine.result_cache import cached
from queries.engine.scope import Scope
from queries.engine.warehouse import Warehouse
from queries.stats.early_warning import (
    CUSUM_H,
    CUSUM_K,
    EWMA_L,
    EWMA_LAMBDA,
    PERSIST_DAYS,
    DriftChart,
    common_mode_adjusted,
    drift_chart,
    lead_time,
    warning_episodes,
)

logger = logging.getLogger(__name__)

BASELINE_DAYS = 60
DAY = pd.Timedelta(days=1)
SUMMARY_COLUMNS = ["sensor_id", "site_id", "room_id", "room_name", "grade", "parameter", "unit", "n_peers",
                   "status", "warning_since", "episodes", "excursions", "action_excursions",
                   "first_action_at", "lead_time_days"]


@dataclass(frozen=True)
class DriftParameters:
    """The chart design; defaults are the textbook ones (queries/stats/early_warning.py)."""

    baseline_days: int = BASELINE_DAYS
    lam: float = EWMA_LAMBDA
    L: float = EWMA_L
    k: float = CUSUM_K
    h: float = CUSUM_H
    persist_days: int = PERSIST_DAYS

    def describe(self) -> str:
        return (f"EWMA lambda = {self.lam:g}, L = {self.L:g}; tabular CUSUM k = {self.k:g} sigma, h = {self.h:g} "
                f"sigma; a warning is the EWMA beyond its limit {self.persist_days} days in a row")


@dataclass
class DriftResult:
    summary: pd.DataFrame  # one row per sensor, SUMMARY_COLUMNS
    charts: dict[str, DriftChart] = field(default_factory=dict)
    episodes: dict[str, pd.DataFrame] = field(default_factory=dict)  # per charted sensor (warning_episodes)
    excursions: pd.DataFrame = field(default_factory=pd.DataFrame)
    baseline_start: pd.Timestamp | None = None
    baseline_end: pd.Timestamp | None = None
    parameters: DriftParameters = field(default_factory=DriftParameters)
    # What happened after each warning episode, by follow-up days (warning_outcomes); the result is
    # cached for an hour and shared, so this is worked out once per result, not per request.
    episode_facts: dict[int, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)


def daily_means(wh: Warehouse, scope: Scope, baseline_days: int) -> pd.DataFrame:
    """Wide frame (day x sensor) from the baseline's first day to the window end; only finished days."""
    wide_scope = scope.with_window(scope.start - timedelta(days=baseline_days), scope.end)
    rows = wh.query("sql/signals/sensor_daily_means", scope=wide_scope)
    if rows.empty:
        return pd.DataFrame()
    rows["day"] = pd.to_datetime(rows["day"])
    rows = rows[rows["day"] + DAY <= pd.Timestamp(scope.end)]  # today's mean is not final yet
    rows["value_mean"] = rows["value_mean"].astype(float)
    return rows.pivot_table(index="day", columns="sensor_id", values="value_mean", aggfunc="first").sort_index()


def analyse(wh: Warehouse, scope: Scope, params: DriftParameters | None = None) -> DriftResult:
    """Every sensor of the scope's sites, charted over the window against the ``baseline_days`` before it.

    Daily means are adjusted for the site's common mode (queries/stats/early_warning.py) before charting.
    For each action-level excursion in the window, the lead time is the time from the standing warning
    on that sensor to the excursion's start. The analysis runs from the window's first day to its end
    truncated to the hour (daily means only change at midnight), so calls within an hour are one question
    for the result cache, which keys it on the data versions as every cached answer.
    """
    start = pd.Timestamp(scope.start).normalize().to_pydatetime()
    end = pd.Timestamp(scope.end).floor("h").to_pydatetime()
    return _analyse(wh, scope.with_window(start, end), params or DriftParameters())


@cached("sensor_drift", domains=(data_version.MEASUREMENTS, data_version.QUALITY))
def _analyse(wh: Warehouse, scope: Scope, params: DriftParameters) -> DriftResult:
    sensors = wh.query("sql/signals/sensors", scope=scope)
    excursions = wh.query("sql/signals/excursions", scope=scope)
    for column in ("started_at", "detected_at", "ended_at"):
        excursions[column] = pd.to_datetime(excursions[column])
    wide = daily_means(wh, scope, params.baseline_days)
    start = pd.Timestamp(scope.start).normalize()
    result = DriftResult(pd.DataFrame(columns=SUMMARY_COLUMNS), {}, {}, excursions,
                         start - params.baseline_days * DAY, start, params)
    if wide.empty:
        return result
    groups = {row.sensor_id: (row.site_id, row.parameter) for row in sensors.itertuples(index=False)}
    adjusted, n_peers = common_mode_adjusted(wide, groups, wide.index < start)
    by_sensor = _excursion_times(excursions)
    rows = []
    for sensor in sensors.itertuples(index=False):
        chart = None
        if sensor.sensor_id in adjusted:
            chart = drift_chart(adjusted[sensor.sensor_id], start, lam=params.lam, L=params.L, k=params.k,
                                h=params.h, persist_days=params.persist_days)
        times = by_sensor.get(sensor.sensor_id, _NO_EXCURSIONS)
        first_action = times.action_started.min() if len(times.action_started) else pd.NaT
        row = {**sensor._asdict(), "n_peers": int(n_peers.get(sensor.sensor_id, 0)),
               "excursions": times.count, "action_excursions": len(times.action_started), "episodes": 0,
               "warning_since": pd.NaT, "first_action_at": first_action, "lead_time_days": np.nan}
        if chart is None:
            row["status"] = "no baseline"
        else:
            result.charts[sensor.sensor_id] = chart
            episodes = result.episodes[sensor.sensor_id] = warning_episodes(chart.frame["warning"])
            row["episodes"] = len(episodes)
            row["status"] = _status(chart, episodes, scope)
            if row["status"] == "warning":
                row["warning_since"] = episodes["known_from"].iloc[-1]
            if len(times.action_started):
                lead = lead_time(episodes, first_action)
                row["lead_time_days"] = lead / DAY if lead is not None else np.nan
        rows.append(row)
    result.summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return result


@dataclass(frozen=True)
class _SensorExcursions:
    count: int
    acknowledged_at: pd.DatetimeIndex
    action_started: pd.DatetimeIndex


_NO_EXCURSIONS = _SensorExcursions(0, pd.DatetimeIndex([]), pd.DatetimeIndex([]))


def _excursion_times(excursions: pd.DataFrame) -> dict[str, _SensorExcursions]:
    """Per sensor, what the analysis asks of its excursions (grouped once: a filter per sensor cost more)."""
    out = {}
    for sensor_id, mine in excursions.groupby("sensor_id", sort=False):
        acknowledged = pd.to_datetime(mine["acknowledged_at"])
        out[sensor_id] = _SensorExcursions(len(mine), pd.DatetimeIndex(acknowledged[acknowledged.notna()]),
                                           pd.DatetimeIndex(mine.loc[mine["level"] == "action", "started_at"]))
    return out


def _status(chart: DriftChart, episodes: pd.DataFrame, scope: Scope) -> str:
    """'warning' when the latest warning episode is still standing at the window end."""
    if episodes.empty:
        return "in control"
    last_day = pd.Timestamp(scope.end).normalize() - DAY
    return "warning" if episodes["end"].iloc[-1] >= last_day - 7 * DAY else "in control"


def sensor_chart(result: DriftResult, sensor_id: str) -> tuple[DriftChart | None, pd.DataFrame]:
    """The chart of one sensor of the result and its excursions; (None, empty) if it has none."""
    chart = result.charts.get(sensor_id)
    excursions = result.excursions[result.excursions["sensor_id"] == sensor_id] if not result.excursions.empty \
        else result.excursions
    return chart, excursions


# --- KPI prevented_failures ------------------------------------------------------------------------
FOLLOW_UP_DAYS = 30  # a warning acted on counts as a prevented failure if no action excursion follows


def warning_outcomes(result: DriftResult, end: pd.Timestamp, follow_up_days: int = FOLLOW_UP_DAYS) -> pd.DataFrame:
    """One row per warning episode that became known in the window, with what happened next.

    ``acted``: an excursion on that sensor was acknowledged between the warning and the episode's end
    plus a week (someone looked at the room); ``failed``: an action-level excursion on that sensor
    started between the warning and ``follow_up_days`` after the episode; ``outcome``: 'prevented' (acted,
    not failed, follow-up over), 'failed', 'pending' (follow-up not over) or 'not acted on'.
    """
    facts = result.episode_facts.get(follow_up_days)
    if facts is None:
        facts = result.episode_facts[follow_up_days] = _episode_facts(result, follow_up_days)
    outcome = np.select([facts["failed"].to_numpy(bool), ~facts["acted"].to_numpy(bool),
                         (facts["follow_until"] > end).to_numpy(bool)],
                        ["failed", "not acted on", "pending"], "prevented")
    return facts.drop(columns="follow_until").assign(outcome=outcome)


def _episode_facts(result: DriftResult, follow_up_days: int) -> pd.DataFrame:
    rows = []
    by_sensor = _excursion_times(result.excursions) if not result.excursions.empty else {}
    site_of = dict(zip(result.summary["sensor_id"], result.summary["site_id"], strict=True))
    for sensor_id, episodes in result.episodes.items():
        times = by_sensor.get(sensor_id, _NO_EXCURSIONS)
        for known_from, end in zip(episodes["known_from"], episodes["end"], strict=True):
            act_until = end + DAY + 7 * DAY
            follow_until = end + DAY + follow_up_days * DAY
            acked, action = times.acknowledged_at, times.action_started
            rows.append({"site_id": site_of[sensor_id], "sensor_id": sensor_id, "known_from": known_from,
                         "end": end, "acted": bool(((acked >= known_from) & (acked <= act_until)).any()),
                         "failed": bool(((action >= known_from) & (action <= follow_until)).any()),
                         "follow_until": follow_until})
    return pd.DataFrame(rows, columns=["site_id", "sensor_id", "known_from", "end", "acted", "failed", "follow_until"])


def prevented_failures_by_site(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    """KPI prevented_failures per site and for the network (sum): warnings acted on with no failure after.

    The network row needs every site's sensors, so for a site manager it is computed over all sites and
    only the total leaves this function (a count across the network reveals no one site)."""
    own = _outcomes(wh, scope)
    rows = [_kpi_row(site_id, own[own["site_id"] == site_id]) for site_id in scope.site_ids]
    if scope.network:
        everyone = own if _covers_all_sites(wh, scope) else _outcomes(wh, _all_sites(wh, scope))
        rows.insert(0, _kpi_row(None, everyone))
    return pd.DataFrame(rows, columns=["site_id", "value", "n", "numerator", "denominator"])


def _outcomes(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    if not scope.site_ids:
        return warning_outcomes(DriftResult(pd.DataFrame(columns=SUMMARY_COLUMNS)), pd.Timestamp(scope.end))
    outcomes = warning_outcomes(analyse(wh, scope), pd.Timestamp(scope.end))
    return outcomes[outcomes["known_from"] >= pd.Timestamp(scope.start)]


def _kpi_row(site_id: str | None, outcomes: pd.DataFrame) -> dict:
    prevented = int((outcomes["outcome"] == "prevented").sum())
    return {"site_id": site_id, "value": prevented, "n": len(outcomes), "numerator": prevented,
            "denominator": len(outcomes)}


def _covers_all_sites(wh: Warehouse, scope: Scope) -> bool:
    return set(scope.site_ids) >= set(wh.query("sql/site_ids")["site_id"])


def _all_sites(wh: Warehouse, scope: Scope) -> Scope:

    return replace(scope, site_ids=tuple(wh.query("sql/site_ids")["site_id"]))
