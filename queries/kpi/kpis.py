"""Compute catalogue KPIs under a scope: one row per visible site plus the network row.

How each KPI is computed (its SQL or its function, the options it takes) is declared in the catalogue
(queries/kpi/catalog.py); this module runs what it declares."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from queries.engine.scope import Scope
from queries.engine.sql_files import load_sql
from queries.engine.warehouse import Warehouse
from queries.kpi import catalog
from queries.kpi.catalog import NETWORK

logger = logging.getLogger(__name__)

RESULT_COLUMNS = ["kpi_id", "site_id", "value", "n", "numerator", "denominator", "suppressed"]


def kpi_frame(wh: Warehouse, scope: Scope, kpi_ids: list[str] | None = None, **options: int) -> pd.DataFrame:
    """Long frame: kpi_id, site_id (NETWORK for the aggregate), value, n, numerator, denominator,
    suppressed, plus KPI-specific extras (median_h, p90_h, cross_site_pct ...). ``options``: the
    catalogue's OPTIONS (recurrence_days, min_respondents, min_batches), from the settings."""
    unknown = options.keys() - catalog.OPTIONS.keys()
    if unknown:
        raise TypeError(f"unknown KPI options {sorted(unknown)}")
    frames = []
    for kpi in (catalog.get(k) for k in (kpi_ids or [k.id for k in catalog.CATALOG])):
        params = kpi.options(options)
        if kpi.compute:
            frame = kpi.computation()(wh, scope, **params)
        else:
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


def kpi_sql(kpi_id: str) -> str:
    """The SQL behind a KPI, for 'how is this calculated': every query it reads, and its function."""
    kpi = catalog.get(kpi_id)
    parts = [f"-- queries/{name}.sql\n{load_sql(name).strip()}" for name in kpi.queries]
    if kpi.compute:
        module, function = kpi.compute.split(":")
        parts.append(f"-- then {function} in {module.replace('.', '/')}.py")
    return "\n\n".join(parts)
