"""Compute catalogue KPIs under a scope: one row per visible site plus the network row."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from queries import catalog
from queries.scope import Scope
from queries.stats.equivalence import cross_site_consistency
from queries.warehouse import Warehouse, load_sql

logger = logging.getLogger(__name__)

NETWORK = "__network__"  # site_id of the network-aggregate row (SQL ROLLUP gives NULL)
CQA_COLUMNS = ("viability_pct", "transduction_pct", "cd3_pct", "vcn", "dose", "endotoxin_eu_ml")
RESULT_COLUMNS = ["kpi_id", "site_id", "value", "n", "numerator", "denominator", "suppressed"]


# KPIs about identifiable people (survey respondents, operators): groups under the minimum size
# (ATMP_MIN_SURVEY_RESPONDENTS) are suppressed and enter no aggregate.
SMALL_GROUP_KPIS = frozenset({"psych_safety", "cert_pass_rate", "time_to_competency"})


def kpi_frame(wh: Warehouse, scope: Scope, kpi_ids: list[str] | None = None, *,
              recurrence_days: int = 90, min_respondents: int = 5, min_batches: int = 5) -> pd.DataFrame:
    """Long frame: kpi_id, site_id (NETWORK for the aggregate), value, n, numerator, denominator,
    suppressed, plus KPI-specific extras (median_h, p90_h, cross_site_pct ...)."""
    frames = []
    for kpi in (catalog.get(k) for k in (kpi_ids or [k.id for k in catalog.CATALOG])):
        if kpi.computed == "consistency":
            frame = consistency_by_site(wh, scope, min_batches=min_batches)
        elif kpi.computed == "training_performance":
            from queries.people import training_performance_by_site  # people imports this module

            frame = training_performance_by_site(wh, scope, min_n=min_respondents)
        elif kpi.computed == "prediction_accuracy":
            from queries.risk import prediction_accuracy_by_site  # risk imports this module

            frame = prediction_accuracy_by_site(wh, scope)
        elif kpi.computed == "prevented_failures":
            from queries.sensor_drift import prevented_failures_by_site

            frame = prevented_failures_by_site(wh, scope)
        else:
            params = {}
            if kpi.id == "recurrence":
                params["lookback_days"] = recurrence_days
            if kpi.id in SMALL_GROUP_KPIS:
                params["min_n"] = min_respondents
            frame = wh.query(kpi.query, params, scope=scope)
        frames.append(_normalise(frame, kpi.id))
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _normalise(frame: pd.DataFrame, kpi_id: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["kpi_id"] = kpi_id
    frame["site_id"] = frame["site_id"].astype(object).where(frame["site_id"].notna(), NETWORK)
    for column in ("numerator", "denominator", "n"):
        if column not in frame:
            frame[column] = np.nan
    if "suppressed" not in frame:
        frame["suppressed"] = False
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    return frame


def consistency_by_site(wh: Warehouse, scope: Scope, *, min_batches: int = 5) -> pd.DataFrame:
    """Cross-site consistency score per site and for the network.

    The reference is every site's batches in the window (needed even for a site manager, whose
    scope then shows only its own row and the anonymised network score)."""
    per_pair = consistency_pairs(wh, scope, min_batches=min_batches)
    rows = []
    if scope.network:
        rows.append({"site_id": None, **_score(per_pair)})
    for site_id in scope.site_ids:
        rows.append({"site_id": site_id, **_score(per_pair[per_pair["site_id"] == site_id])})
    return pd.DataFrame(rows, columns=["site_id", "value", "n", "numerator", "denominator"])


def consistency_pairs(wh: Warehouse, scope: Scope, *, min_batches: int = 5) -> pd.DataFrame:
    """TOST result per (site, product, CQA) for every site in the window; callers filter to their scope.
    Each product is compared only with the same product elsewhere (their specifications differ)."""
    batches = wh.query("sql/batch_cqas_all_sites", scope=scope)
    parts = []
    for product, group in batches.groupby("product", sort=True):
        _, per_pair = cross_site_consistency(group, list(CQA_COLUMNS), min_n=min_batches)
        parts.append(per_pair.assign(product=product))
    if not parts:
        return pd.DataFrame(columns=["site_id", "product", "cqa", "verdict"])
    return pd.concat(parts, ignore_index=True)


def _score(pairs: pd.DataFrame) -> dict:
    evaluable = pairs[pairs["verdict"] != "insufficient data"]
    equivalent = int((evaluable["verdict"] == "equivalent").sum())
    value = 100.0 * equivalent / len(evaluable) if len(evaluable) else None
    return {"value": value, "n": len(evaluable), "numerator": equivalent, "denominator": len(evaluable)}


def kpi_sql(kpi_id: str) -> str:
    """The SQL behind a KPI, for 'how is this calculated'."""
    kpi = catalog.get(kpi_id)
    if kpi.query:
        return load_sql(kpi.query)
    return load_sql("sql/batch_cqas_all_sites") + "\n-- then TOST per (site, CQA): queries/stats/equivalence.py"


def pivot_values(frame: pd.DataFrame) -> pd.DataFrame:
    """site_id x kpi_id table of values (suppressed cells stay NaN)."""
    if frame.empty:
        return pd.DataFrame()
    return frame.pivot_table(index="site_id", columns="kpi_id", values="value", aggfunc="first", dropna=False)
