"""Page-side calls into the query layer with the app's settings (no SQL, no statistics here)."""

from __future__ import annotations

import pandas as pd

from dashboard.context import settings, warehouse
from queries.kpis import kpi_frame
from queries.scope import Scope


def kpis(scope: Scope, kpi_ids: list[str] | None = None) -> pd.DataFrame:
    cfg = settings()
    return kpi_frame(warehouse(), scope, kpi_ids, recurrence_days=cfg.recurrence_window_days,
                     min_respondents=cfg.min_survey_respondents,
                     min_batches=cfg.min_batches_for_comparability)


def sites(scope: Scope) -> pd.DataFrame:
    return warehouse().query("sql/sites_in_scope", scope=scope)


def data_as_of():
    return warehouse().data_as_of()
