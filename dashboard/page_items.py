"""One function per chart or table of the signals, comparability and site-monitoring pages that can be
exported: the rows and the figure the page shows. The page's callback and the item's export
(dashboard/exports/sources.py) both call it, so a file holds exactly what the page showed for the same
scope and selections. The caller has already validated the selections; nothing here widens a scope."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboard import context
from dashboard.components import stats_figures as figs
from dashboard.components.trend_chart import trend_figure
from queries.analyses import comparability as cmp
from queries.analyses import monitoring, sensor_drift, signals
from queries.engine.scope import Scope

logger = logging.getLogger(__name__)

RULE_SET_LABELS = {"nelson": "Nelson (8 rules)", "western_electric": "Western Electric (4 rules)",
                   "shewhart": "Beyond 3σ only"}


def products() -> list[str]:
    """Products with a specification, the most manufactured first (the pages' product choices)."""
    return list(context.warehouse().query("sql/signals/products")["product"])


# --- /signals ----------------------------------------------------------------------------------------
def control_chart(scope: Scope, site_id: str, product: str, cqa: str, rules: str) -> tuple[pd.DataFrame, go.Figure]:
    """The I-MR chart of one site, product and CQA: the window's batches with limits and run-rule flags."""
    wh = context.warehouse()
    chart = signals.cqa_chart(wh, scope, site_id, product, cqa, rules)
    specs = wh.query("sql/signals/specifications")
    spec = specs[(specs["product"] == product) & (specs["cqa"] == cqa)]
    spec_row = spec.iloc[0].to_dict() if len(spec) else None
    return chart, figs.imr_figure(chart, f"{signals.CQA_LABELS[cqa]} · {product} · {site_id}", spec_row)


def drift_analysis(site_scope: Scope) -> sensor_drift.DriftResult:
    """EWMA/CUSUM drift of every sensor of one site (cached per site and window in queries.analyses.sensor_drift)."""
    return sensor_drift.analyse(context.warehouse(), site_scope)


def sensor_label(row) -> str:
    return f"{row.sensor_id} · {row.parameter} · {row.room_name}"


@dataclass(frozen=True)
class DriftView:
    sensor: pd.Series  # the sensor's summary row (status, lead time, peers)
    frame: pd.DataFrame  # one row per day: adjusted mean, EWMA and its limits, CUSUM, warning
    figure: go.Figure


def drift_chart(result: sensor_drift.DriftResult, sensor_id: str) -> DriftView:
    """One sensor of a drift analysis (``sensor_id`` must be one of ``result.summary``)."""
    row = result.summary[result.summary["sensor_id"] == sensor_id].iloc[0]
    chart, excursions = sensor_drift.sensor_chart(result, sensor_id)
    figure = figs.drift_figure(chart, excursions, f"{sensor_id} · {row['parameter']} · {row['room_name']}",
                               row["unit"], adjusted=row["n_peers"] > 0, h=result.parameters.h)
    frame = (pd.DataFrame(columns=["day"]) if chart is None
             else chart.frame.rename_axis("day").reset_index().assign(sensor_id=sensor_id))
    return DriftView(row, frame, figure)


# --- /comparability ----------------------------------------------------------------------------------
def comparability(scope: Scope, product) -> cmp.Comparability:
    """Distributions, TOST, Ppk, scores and the funnel for one product (the page's one query)."""
    return cmp.comparability(context.warehouse(), scope, product if isinstance(product, str) else None,
                             min_batches=context.settings().min_batches_for_comparability)


def funnel_chart(result: cmp.Comparability) -> go.Figure:
    return figs.funnel_figure(result.funnel, result.funnel_curve, result.network_rate)


# --- /monitoring/<site_id> ---------------------------------------------------------------------------
def site_sensors(site_scope: Scope) -> pd.DataFrame:
    """The site's sensors with their limits (the trend's sensor choices)."""
    return context.warehouse().query("monitoring/live_values", scope=site_scope)


@dataclass(frozen=True)
class TrendView:
    points: pd.DataFrame  # rollup buckets: bucket, n, value_mean, value_min, value_max, grain
    figure: go.Figure
    since: datetime
    until: datetime
    grain: str


def sensor_trend(site_scope: Scope, tz: str, sensor_id, window: str, now: datetime) -> TrendView | None:
    """A sensor's rollups over the trend window, with its limits and excursions; None when the sensor is
    not one of the site's (a forged id shows nothing of anyone else's)."""
    wh = context.warehouse()
    sensors = site_sensors(site_scope)
    match = sensors[sensors["sensor_id"] == sensor_id]
    if match.empty:
        return None
    limits = match.iloc[0].to_dict()
    since = now - monitoring.TREND_WINDOWS[window]
    points, grain = monitoring.trend(wh, site_scope, sensor_id, since, now)
    spans = monitoring.sensor_excursions(wh, site_scope, sensor_id, since, now)
    title = (f"{limits['room_name']} · {monitoring.PARAMETER_LABELS.get(limits['parameter'], limits['parameter'])}"
             f" · last {window} ({grain} rollups, {len(points)} points)")
    return TrendView(points, trend_figure(points, grain, limits, spans, tz, title, since, now), since, now, grain)


def excursion_history(site_scope: Scope, now: datetime) -> pd.DataFrame:
    """Open excursions and those of the last EXCURSION_LIST_DAYS, with the batches in the room."""
    return monitoring.excursions(context.warehouse(), site_scope, now)
