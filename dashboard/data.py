"""Page-side calls into the query layer with the app's settings (no SQL, no statistics here)."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from dashboard.context import settings, warehouse
from queries.engine import data_version
from queries.engine.result_cache import cached
from queries.engine.scope import Scope
from queries.engine.warehouse import Warehouse
from queries.kpi import catalog
from queries.kpi.kpis import kpi_frame

# Answered from the result cache when the app has one (queries/engine/result_cache.py): keyed by scope,
# arguments and data version, so new data is never hidden behind a cached answer. One entry per KPI,
# each keyed by the data it reads (the catalogue's `measured`): sensors reporting recompute uptime and
# completeness, never the rest (prevented failures reads finished days' means, which live readings never change).
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kpi")
_quality_kpi = cached("kpi", domains=(data_version.QUALITY,))(kpi_frame)
_measured_kpi = cached("kpi", domains=(data_version.MEASUREMENTS, data_version.QUALITY))(kpi_frame)


def kpi_options() -> dict[str, int]:
    """The catalogue's KPI options as this app's settings set them."""
    cfg = settings()
    return {option: getattr(cfg, name) for option, name in catalog.OPTION_SETTINGS.items()}


def kpi_text(kpi: catalog.Kpi) -> catalog.Kpi:
    """The KPI with its definition and formula stating this app's settings (e.g. its recurrence window)."""
    return kpi.rendered(kpi_options())


@cached("sites_in_scope")
def _sites(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    return wh.query("sql/sites_in_scope", scope=scope)


@cached("data_as_of", domains=(data_version.MEASUREMENTS, data_version.QUALITY))
def _data_as_of(wh: Warehouse):
    return wh.data_as_of()


def kpis(scope: Scope, kpi_ids: list[str] | None = None) -> pd.DataFrame:
    """kpi_frame's answer (the same frame), assembled from one cached entry per KPI."""
    options = kpi_options()
    wh = warehouse()

    def one(kpi_id: str) -> pd.DataFrame:
        return (_measured_kpi if catalog.get(kpi_id).measured else _quality_kpi)(wh, scope, [kpi_id], **options)

    # The KPI queries of a miss run side by side: the warehouse works (without the GIL) on one while
    # Python computes another. Results keep the catalogue order. Each runs in a copy of the request's
    # context, so a previous answer served to it marks the request (queries/engine/result_cache.py).
    futures = [_POOL.submit(contextvars.copy_context().run, one, k) for k in kpi_ids or [k.id for k in catalog.CATALOG]]
    frames = [f.result() for f in futures]
    return pd.concat(frames, ignore_index=True) if frames else kpi_frame(wh, scope, [], **options)


def sites(scope: Scope) -> pd.DataFrame:
    return _sites(warehouse(), scope)


def data_as_of():
    return _data_as_of(warehouse())


@dataclass(frozen=True)
class SiteRecords:
    """What the site page shows beside its KPIs; its exports read the same (one query each, once)."""

    deviations: pd.DataFrame  # detected in the window
    programmes: pd.DataFrame  # improvement programmes, drawn on the deviation timeline
    open_capas: pd.DataFrame  # open at the window end
    batches: pd.DataFrame  # started in the window
    survey_waves: pd.DataFrame  # every wave to the window end, small groups suppressed
    document_drift: pd.DataFrame  # controlled documents behind the master version


@cached("site_records")
def _site_records(wh: Warehouse, scope: Scope, min_respondents: int) -> SiteRecords:
    return SiteRecords(
        wh.query("sql/site_deviations", scope=scope), wh.query("sql/site_programmes", scope=scope),
        wh.query("sql/site_open_capas", scope=scope), wh.query("sql/site_batches", scope=scope),
        wh.query("sql/site_survey_waves", {"min_n": min_respondents}, scope=scope),
        wh.query("sql/site_document_drift", scope=scope))


def site_records(scope: Scope) -> SiteRecords:
    """The site page's records for a one-site scope (Scope.for_site)."""
    return _site_records(warehouse(), scope, settings().min_survey_respondents)
