"""The same questions three ways: the hub's query layer, a raw DuckDB scan (no rollups, no cache), and
plain pandas over the raw tables held in memory (the 'global DataFrame' dashboard).

The raw scan runs in plain DuckDB (``plain_duckdb``: the SQL and its values handed to DuckDB's own
connection, the answer fetched with ``.df()``), not through the hub's query path, whose parameter
binding, row cap and frame building would slow the baseline down and flatter the hub.

Each question is one a page asks of the heavy data (readings, heartbeats, deviations). The three
answers are compared before anything is timed, so a baseline that answers a different question fails
the run instead of flattering the hub.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from queries.analyses import monitoring
from queries.engine.scope import Scope, build_scope
from queries.engine.sql_files import load_sql
from queries.engine.warehouse import Warehouse
from queries.kpi.catalog import NETWORK
from queries.kpi.kpis import kpi_frame

logger = logging.getLogger(__name__)

KPI_IDS = ["mttd", "recurrence", "data_completeness", "uptime"]
DRIFT_DAYS = 365 + 60  # signals: a year's window plus the 60-day baseline before it


@dataclass
class RawTables:
    """Raw tables in memory, loaded once (readings with a small integer sensor code)."""

    readings: pd.DataFrame
    codes: dict[str, int]
    deviations: pd.DataFrame
    excursions: pd.DataFrame
    sensors: pd.DataFrame
    sites: pd.DataFrame
    heartbeats: pd.DataFrame
    load_seconds: float

    @classmethod
    def load(cls, wh: Warehouse) -> RawTables:
        start = time.perf_counter()
        with wh.engine.connect() as conn:  # DuckDB: straight to numpy columns, no row objects
            raw = conn.connection.dbapi_connection
            readings = raw.execute(load_sql("bench/raw_readings_coded")).df()
        sensors = wh.query("bench/raw_sensors")
        codes = {sid: i + 1 for i, sid in enumerate(sorted(sensors["sensor_id"]))}
        tables = {name: wh.query(f"bench/raw_{name}") for name in ("deviations", "excursions", "sites",
                                                                  "ingest_heartbeats")}
        for frame in (*tables.values(), sensors):
            for column in frame.columns:
                if column.endswith("_at") or column == "ts":
                    frame[column] = pd.to_datetime(frame[column])
        readings["ts"] = pd.to_datetime(readings["ts"])
        return cls(readings, codes, tables["deviations"], tables["excursions"], sensors, tables["sites"],
                   tables["ingest_heartbeats"], time.perf_counter() - start)

    @property
    def megabytes(self) -> float:
        return self.readings.memory_usage(deep=True).sum() / 1e6


@dataclass(frozen=True)
class Question:
    name: str
    asks: str
    hub: Callable[[Warehouse, Scope], pd.DataFrame]
    raw: Callable[[Warehouse, Scope], pd.DataFrame]
    pandas: Callable[[RawTables, Scope], pd.DataFrame]
    compare: Callable[[pd.DataFrame, pd.DataFrame], None]


def plain_duckdb(wh: Warehouse, name: str, params: dict | None = None, *, scope: Scope | None = None) -> pd.DataFrame:
    """queries/<name>.sql as plain DuckDB answers it: the statement the hub would run (its scope's values
    bound the same way, lists expanded) handed with its values to DuckDB's own connection and fetched with
    DuckDB's ``.df()``, without SQLAlchemy's execution, the row cap or the hub's frame building."""
    stmt, bound = wh._statement(name, load_sql(name), params or {}, scope)
    compiled = stmt.bindparams(**bound).compile(dialect=wh.engine.dialect,
                                                compile_kwargs={"render_postcompile": True})
    values = [compiled.params[k] for k in compiled.positiontup] if compiled.positiontup else compiled.params
    with wh.engine.connect() as conn:
        return conn.connection.dbapi_connection.execute(str(compiled), values).df()


# --- KPIs over the window (overview, kiosk, site drill-down) ------------------------------------------
def kpi_hub(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    return kpi_frame(wh, scope, KPI_IDS)[["kpi_id", "site_id", "value"]]


def kpi_raw(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    parts = []
    for kpi_id, query, params in (("mttd", "metrics/mttd", {}), ("recurrence", "metrics/recurrence",
                                                                  {"lookback_days": 90}),
                                  ("data_completeness", "bench/raw_data_completeness", {}),
                                  ("uptime", "metrics/uptime", {})):
        frame = plain_duckdb(wh, query, params, scope=scope)
        parts.append(pd.DataFrame({"kpi_id": kpi_id, "site_id": frame["site_id"].astype(object).where(
            frame["site_id"].notna(), NETWORK), "value": pd.to_numeric(frame["value"]).astype(float)}))
    return pd.concat(parts, ignore_index=True)


def kpi_pandas(t: RawTables, scope: Scope) -> pd.DataFrame:
    start, end = pd.Timestamp(scope.start), pd.Timestamp(scope.end)
    sites = list(scope.site_ids)
    rows = []

    def add(kpi_id, per_site: pd.Series, network_value: float):
        for site_id in sites:
            if site_id in per_site.index:
                rows.append((kpi_id, site_id, float(per_site[site_id])))
        rows.append((kpi_id, NETWORK, float(network_value)))

    dev = t.deviations
    window = dev[(dev["detected_at"] >= start) & (dev["detected_at"] < end)]
    started = window["excursion_id"].map(t.excursions.set_index("excursion_id")["started_at"])
    hours = (window["detected_at"] - started.fillna(window["occurred_at"])).dt.total_seconds() / 3600
    add("mttd", hours.groupby(window["site_id"]).mean(), hours.mean())

    every = dev.sort_values("detected_at")[["site_id", "root_cause_code", "detected_at"]]
    earlier = pd.merge_asof(window.sort_values("detected_at")[["site_id", "root_cause_code", "detected_at"]],
                            every.rename(columns={"detected_at": "earlier_at"}), left_on="detected_at",
                            right_on="earlier_at", by=["site_id", "root_cause_code"], allow_exact_matches=False)
    recurred = (earlier["detected_at"] - earlier["earlier_at"]) <= pd.Timedelta(days=90)
    add("recurrence", 100 * recurred.groupby(earlier["site_id"]).mean(), 100 * recurred.mean())

    sensors = t.sensors.assign(code=t.sensors["sensor_id"].map(t.codes))
    seconds = (end - np.maximum(start, sensors["installed_at"])).dt.total_seconds().clip(lower=0)
    sensors["expected"] = np.floor(seconds / sensors["interval_s"])
    r = t.readings
    in_window = r[(r["ts"] >= start) & (r["ts"] < end)]
    counts = in_window["code"].value_counts()
    sensors = sensors[seconds / sensors["interval_s"] >= 1]
    sensors["received"] = np.minimum(sensors["code"].map(counts).fillna(0), sensors["expected"])
    per_site = sensors.groupby("site_id")[["received", "expected"]].sum()
    add("data_completeness", 100 * per_site["received"] / per_site["expected"],
        100 * per_site["received"].sum() / per_site["expected"].sum())

    site = t.sites[t.sites["onboarded_at"] < end].set_index("site_id")
    lower = np.maximum(start, site["onboarded_at"])
    last_hour = (end - pd.Timedelta(microseconds=1)).floor("h")
    expected = ((last_hour - lower.dt.floor("h")).dt.total_seconds() / 3600 + 1)
    hb = t.heartbeats.merge(lower.rename("lower"), left_on="site_id", right_index=True)
    hb = hb[(hb["ts"] >= hb["lower"]) & (hb["ts"] < end)]
    received = hb.assign(hour=hb["ts"].dt.floor("h")).groupby("site_id")["hour"].nunique()
    received = np.minimum(received.reindex(expected.index).fillna(0), expected)
    add("uptime", 100 * received / expected, 100 * received.sum() / expected.sum())
    return pd.DataFrame(rows, columns=["kpi_id", "site_id", "value"])


def _same_values(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], value: str = "value") -> None:
    left = a.set_index(keys)[value].astype(float).sort_index()
    right = b.set_index(keys)[value].astype(float).sort_index()
    joined = pd.concat([left.rename("a"), right.rename("b")], axis=1)
    both_nan = joined["a"].isna() & joined["b"].isna()
    close = np.isclose(joined["a"], joined["b"], rtol=1e-6, atol=1e-6) | both_nan
    if not close.all():
        raise AssertionError(f"baselines disagree:\n{joined[~close].head(10)}")


def compare_kpis(a: pd.DataFrame, b: pd.DataFrame) -> None:
    _same_values(a, b, ["kpi_id", "site_id"])


# --- one sensor's trend (monitoring site page) -----------------------------------------------------------
def trend_question(days: int) -> Question:
    window = timedelta(days=days)
    grain = monitoring.choose_grain(window)

    def hub(wh, scope):
        points, _ = monitoring.trend(wh, scope, _sensor(scope), scope.end - window, scope.end)
        return points[["bucket", "n", "value_mean", "value_min", "value_max"]]

    def raw(wh, scope):
        return plain_duckdb(wh, "bench/raw_sensor_buckets", {"sensor_id": _sensor(scope), "grain": grain,
                                                             "since": scope.end - window, "until": scope.end},
                            scope=scope)

    def pandas_(t, scope):
        r = t.readings
        code = t.codes[_sensor(scope)]
        mask = (r["code"] == code) & (r["ts"] >= pd.Timestamp(scope.end - window)) & (r["ts"] < pd.Timestamp(scope.end))
        one = r[mask]
        buckets = one["ts"].dt.floor({"hour": "h", "day": "D", "minute": "min"}[grain])
        agg = one.groupby(buckets)["value"].agg(["count", "mean", "min", "max"]).reset_index()
        agg.columns = ["bucket", "n", "value_mean", "value_min", "value_max"]
        return agg

    return Question(f"trend_{days}d", f"one sensor's {grain}ly mean/min/max, last {days} days", hub, raw, pandas_,
                    lambda a, b: _same_values(a.assign(bucket=pd.to_datetime(a["bucket"])),
                                              b.assign(bucket=pd.to_datetime(b["bucket"])), ["bucket"], "value_mean"))


_SENSOR: dict[str, str] = {}


def _sensor(scope: Scope) -> str:
    return _SENSOR[scope.site_ids[0]]


# --- daily means of a site's sensors (signals: drift early warning) --------------------------------------
def daily_hub(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    frame = wh.query("sql/signals/sensor_daily_means", scope=_drift_scope(scope))
    return frame[["sensor_id", "day", "value_mean"]]


def daily_raw(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    return plain_duckdb(wh, "bench/raw_sensor_daily_means",
                        scope=_drift_scope(scope))[["sensor_id", "day", "value_mean"]]


def daily_pandas(t: RawTables, scope: Scope) -> pd.DataFrame:
    s = _drift_scope(scope)
    codes = {t.codes[x] for x in t.sensors.loc[t.sensors["site_id"].isin(s.site_ids), "sensor_id"]}
    r = t.readings
    mask = r["code"].isin(codes) & (r["ts"] >= pd.Timestamp(s.start)) & (r["ts"] < pd.Timestamp(s.end))
    one = r[mask]
    agg = one.groupby([one["code"], one["ts"].dt.floor("D")])["value"].mean().reset_index()
    names = {v: k for k, v in t.codes.items()}
    return pd.DataFrame({"sensor_id": agg["code"].map(names), "day": agg["ts"], "value_mean": agg["value"]})


def _drift_scope(scope: Scope) -> Scope:
    return scope.with_window(scope.end - timedelta(days=DRIFT_DAYS), scope.end)


def compare_daily(a: pd.DataFrame, b: pd.DataFrame) -> None:
    # Rollup means are stored rounded to 6 decimals.
    _same_values(a.assign(day=pd.to_datetime(a["day"])), b.assign(day=pd.to_datetime(b["day"])),
                 ["sensor_id", "day"], "value_mean")


# --- newest reading (every page's 'data as of') -----------------------------------------------------------
def as_of_hub(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    return pd.DataFrame({"as_of": [wh.data_as_of()]})


def as_of_pandas(t: RawTables, scope: Scope) -> pd.DataFrame:
    latest = max(t.readings["ts"].max(), t.heartbeats["ts"].max(), t.deviations["detected_at"].max())
    return pd.DataFrame({"as_of": [latest]})


def compare_as_of(a: pd.DataFrame, b: pd.DataFrame) -> None:
    if pd.Timestamp(a["as_of"].iloc[0]) < pd.Timestamp(b["as_of"].iloc[0]) - pd.Timedelta(days=400):
        raise AssertionError("as-of baselines disagree")


QUESTIONS = (
    Question("kpi_window", "MTTD, recurrence, completeness, uptime per site and network, 90 days",
             kpi_hub, kpi_raw, kpi_pandas, compare_kpis),
    trend_question(30),
    trend_question(365),
    Question("site_daily_means", "daily mean of every sensor of one site, 425 days (drift charts)",
             daily_hub, daily_raw, daily_pandas, compare_daily),
    Question("data_as_of", "newest reading, heartbeat or deviation", as_of_hub,
             lambda wh, scope: plain_duckdb(wh, "sql/data_as_of").set_axis(["as_of"], axis=1), as_of_pandas,
             compare_as_of),
)
# Which question stands behind which callback (for the per-callback raw-scan ratio).
CALLBACK_QUESTION = {
    ("overview", "refresh (tiles, grid)"): "kpi_window",
    ("overview", "refresh (site manager)"): "kpi_window",
    ("site", "refresh (drill-down)"): "kpi_window",
    ("kiosk", "slides refresh"): "kpi_window",
    ("monitoring site", "trend 30 d"): "trend_30d",
    ("monitoring site", "trend 365 d"): "trend_365d",
    ("signals", "drift early warning"): "site_daily_means",
}


def network_scope(wh: Warehouse, end: datetime, days: int = 90) -> Scope:
    sites = list(wh.query("sql/site_ids")["site_id"])
    return build_scope(user_id="bench", role="leadership", own_site=None, all_sites=sites, end=end, days=days)


def site_scope(wh: Warehouse, end: datetime, site_id: str, sensor_id: str) -> Scope:
    _SENSOR[site_id] = sensor_id
    return network_scope(wh, end).for_site(site_id)


def scope_for(question: Question, wh: Warehouse, end: datetime, site_id: str, sensor_id: str) -> Scope:
    return network_scope(wh, end) if question.name in ("kpi_window", "data_as_of") else \
        site_scope(wh, end, site_id, sensor_id)
