"""Page-side calls into the query layer with the app's settings (no SQL, no statistics here)."""

from __future__ import annotations

import pandas as pd

from dashboard.context import settings, warehouse
from queries import data_version
from queries.kpis import kpi_frame
from queries.result_cache import cached
from queries.scope import Scope
from queries.warehouse import Warehouse

# Answered from the result cache when the app has one (queries/result_cache.py): keyed by scope,
# arguments and data version, so new data is never hidden behind a cached answer.
_kpi_frame = cached("kpi_frame")(kpi_frame)


@cached("sites_in_scope")
def _sites(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    return wh.query("sql/sites_in_scope", scope=scope)


@cached("data_as_of", domains=(data_version.LIVE, data_version.QUALITY))
def _data_as_of(wh: Warehouse):
    return wh.data_as_of()


def kpis(scope: Scope, kpi_ids: list[str] | None = None) -> pd.DataFrame:
    cfg = settings()
    return _kpi_frame(warehouse(), scope, kpi_ids, recurrence_days=cfg.recurrence_window_days,
                      min_respondents=cfg.min_survey_respondents,
                      min_batches=cfg.min_batches_for_comparability)


def sites(scope: Scope) -> pd.DataFrame:
    return _sites(warehouse(), scope)


def data_as_of():
    return _data_as_of(warehouse())
