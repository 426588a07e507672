"""Page-side calls into the query layer with the app's settings (no SQL, no statistics here)."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from dashboard.context import settings, warehouse
from queries import catalog, data_version
from queries.kpis import kpi_frame
from queries.result_cache import cached
from queries.scope import Scope
from queries.warehouse import Warehouse

# Answered from the result cache when the app has one (queries/result_cache.py): keyed by scope,
# arguments and data version, so new data is never hidden behind a cached answer. One entry per KPI,
# each keyed by the data it reads: sensors reporting (measurements) recompute uptime and completeness,
# never the other 21 (prevented failures reads finished days' means, which live readings never change).
MEASURED_KPIS = frozenset({"uptime", "data_completeness"})
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kpi")
_quality_kpi = cached("kpi", domains=(data_version.QUALITY,))(kpi_frame)
_measured_kpi = cached("kpi", domains=(data_version.MEASUREMENTS, data_version.QUALITY))(kpi_frame)


@cached("sites_in_scope")
def _sites(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    return wh.query("sql/sites_in_scope", scope=scope)


@cached("data_as_of", domains=(data_version.MEASUREMENTS, data_version.QUALITY))
def _data_as_of(wh: Warehouse):
    return wh.data_as_of()


def kpis(scope: Scope, kpi_ids: list[str] | None = None) -> pd.DataFrame:
    """kpi_frame's answer (the same frame), assembled from one cached entry per KPI."""
    cfg = settings()
    options = {"recurrence_days": cfg.recurrence_window_days, "min_respondents": cfg.min_survey_respondents,
               "min_batches": cfg.min_batches_for_comparability}
    wh = warehouse()

    def one(kpi_id: str) -> pd.DataFrame:
        return (_measured_kpi if kpi_id in MEASURED_KPIS else _quality_kpi)(wh, scope, [kpi_id], **options)

    # The KPI queries of a miss run side by side: the warehouse works (without the GIL) on one while
    # Python computes another. Results keep the catalogue order. Each runs in a copy of the request's
    # context, so a previous answer served to it marks the request (queries/result_cache.py).
    futures = [_POOL.submit(contextvars.copy_context().run, one, k) for k in kpi_ids or [k.id for k in catalog.CATALOG]]
    frames = [f.result() for f in futures]
    return pd.concat(frames, ignore_index=True) if frames else kpi_frame(wh, scope, [], **options)


def sites(scope: Scope) -> pd.DataFrame:
    return _sites(warehouse(), scope)


def data_as_of():
    return _data_as_of(warehouse())
