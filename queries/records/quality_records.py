"""One quality record and what it touches, for the record pages (/deviation/<id>, /batch/<id>, /capa/<id>,
/excursion/<id>).

Every read is bound to the caller's scope: a record of a site outside it (or an id that does not exist)
raises NotFound, the same answer either way, so a forged id learns nothing. Other sites appear only as
counts, and only for a scope that may see network aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from queries.analyses.monitoring import impact
from queries.engine.scope import NotFound, Scope
from queries.engine.warehouse import Warehouse
from queries.kpi.catalog import OPTIONS

RECURRENCE_LOOKBACK_DAYS = 365  # how far back the record page lists earlier deviations of the same cause
VEIN_TO_VEIN_STAGES = (  # (column, stage name), in the order a patient's batch passes them
    ("apheresis_at", "apheresis (collection)"),
    ("started_at", "manufacture started"),
    ("completed_at", "manufacture completed"),
    ("released_at", "released"),
    ("infused_at", "infused"),
)


@dataclass(frozen=True)
class DeviationRecord:
    deviation: pd.Series  # the deviation with its site's name and time zone
    capas: pd.DataFrame
    batches: pd.DataFrame  # batches it touches, with the relation
    excursion: pd.Series | None  # the EM excursion it came from
    earlier_here: pd.DataFrame  # earlier deviations of the same root cause at this site (lookback)
    earlier_other_visible: pd.DataFrame  # ... at the other sites of the scope (a leader's or auditor's)
    earlier_elsewhere: tuple[int, int] | None  # (deviations, sites) outside the scope; None: may not see
    recurrence_days: int  # the recurrence KPI's window, to mark which earlier ones count as recurrence


@dataclass(frozen=True)
class BatchRecord:
    batch: pd.Series  # the batch with its site and room
    cqas: pd.DataFrame  # every specified CQA: limits, value (NaN: not tested), verdict
    verdict: str  # 'oos', 'pending', 'incomplete' or 'within_spec' (as the site page's batch table)
    excursions: pd.DataFrame  # EM excursions in its room during its manufacture
    deviations: pd.DataFrame
    stages: pd.DataFrame  # stage, at, days since the previous known stage


def _one(frame: pd.DataFrame, what: str, record_id) -> pd.Series:
    if frame.empty:
        raise NotFound(f"{what} {record_id!r} not found")
    return frame.iloc[0]


def _checked_id(record_id) -> str:
    """An id from a URL: text of sane length, else nothing can match (NotFound, never a query error)."""
    if not isinstance(record_id, str) or not 0 < len(record_id) <= 120:
        raise NotFound(f"record {record_id!r} not found")
    return record_id


def deviation_record(wh: Warehouse, scope: Scope, deviation_id) -> DeviationRecord:
    deviation_id = _checked_id(deviation_id)
    params = {"deviation_id": deviation_id}
    deviation = _one(wh.query("sql/records/deviation", params, scope=scope), "deviation", deviation_id)
    excursion = wh.query("sql/records/deviation_excursion", params, scope=scope)
    lookback = {**params, "lookback_days": RECURRENCE_LOOKBACK_DAYS}
    earlier = wh.query("sql/records/deviation_recurrence", lookback, scope=scope)
    earlier["days_before"] = pd.to_numeric(earlier["days_before"]).astype(float)  # PostgreSQL: numeric
    elsewhere = None
    if scope.network:
        counts = wh.query("sql/records/deviation_recurrence_elsewhere", lookback, scope=scope)
        elsewhere = (int(counts.iat[0, 0]), int(counts.iat[0, 1])) if len(counts) else (0, 0)
    here = earlier["site_id"] == deviation["site_id"]
    batches = wh.query("sql/records/deviation_batches", params, scope=scope)
    if len(excursion):  # and every batch in the room while its excursion lasted
        during = _impact(wh, scope, excursion["excursion_id"].iloc[0])
        during = during[~during["batch_id"].isin(batches["batch_id"])].assign(
            relation="in the room during the excursion")
        batches = pd.concat([batches, during], ignore_index=True) if len(batches) else during.reset_index(drop=True)
    batches = batches.sort_values(["started_at", "batch_id"], kind="stable").reset_index(drop=True)
    return DeviationRecord(
        deviation=deviation,
        capas=wh.query("sql/records/deviation_capas", params, scope=scope),
        batches=batches,
        excursion=None if excursion.empty else excursion.iloc[0],
        earlier_here=earlier[here].reset_index(drop=True),
        earlier_other_visible=earlier[~here].reset_index(drop=True),
        earlier_elsewhere=elsewhere,
        recurrence_days=int(OPTIONS["recurrence_days"]),
    )


@dataclass(frozen=True)
class CapaRecord:
    capa: pd.Series  # the CAPA with its deviation's root cause and its site
    recurred_after: pd.DataFrame  # same root cause at the site, detected after the CAPA was opened


@dataclass(frozen=True)
class ExcursionRecord:
    excursion: pd.Series  # the excursion with its room, unit and site
    batches: pd.DataFrame  # product impact: batches in the room while it lasted


def capa_record(wh: Warehouse, scope: Scope, capa_id) -> CapaRecord:
    capa_id = _checked_id(capa_id)
    params = {"capa_id": capa_id}
    capa = _one(wh.query("sql/records/capa", params, scope=scope), "CAPA", capa_id)
    return CapaRecord(capa, wh.query("sql/records/capa_recurrence_after", params, scope=scope))


def excursion_record(wh: Warehouse, scope: Scope, excursion_id) -> ExcursionRecord:
    excursion_id = _checked_id(excursion_id)
    params = {"excursion_id": excursion_id}
    excursion = _one(wh.query("sql/records/excursion", params, scope=scope), "excursion", excursion_id)
    return ExcursionRecord(excursion, _impact(wh, scope, excursion_id))


def _impact(wh: Warehouse, scope: Scope, excursion_id: str) -> pd.DataFrame:
    """The batches in an excursion's room while it lasted: the monitoring pages' product-impact rule
    (queries.analyses.monitoring.impact), to the end of the scope."""
    return impact(wh, scope, [excursion_id], scope.end).drop(columns=["excursion_id"])


def batch_verdict(cqas: pd.DataFrame) -> str:
    """The batch's CQA verdict from its specified CQAs, the rule of queries/sql/site_batches.sql: a result
    outside its specification makes it 'oos'; no result at all 'pending'; some specified CQAs without a
    result 'incomplete'; else 'within_spec'. A batch without results is never within specification."""
    tested = cqas["value"].notna()
    if cqas["oos"].fillna(False).astype(bool).any():
        return "oos"
    if not tested.any():
        return "pending"
    return "within_spec" if tested.all() else "incomplete"


def batch_record(wh: Warehouse, scope: Scope, batch_id) -> BatchRecord:
    batch_id = _checked_id(batch_id)
    params = {"batch_id": batch_id}
    batch = _one(wh.query("sql/records/batch", params, scope=scope), "batch", batch_id)
    cqas = wh.query("sql/records/batch_cqas", params, scope=scope)
    cqas["value"] = pd.to_numeric(cqas["value"], errors="coerce")
    cqas["verdict"] = [
        "not tested yet" if pd.isna(value) else ("out of specification" if oos else "within specification")
        for value, oos in zip(cqas["value"], cqas["oos"], strict=True)]
    return BatchRecord(
        batch=batch, cqas=cqas, verdict=batch_verdict(cqas),
        excursions=wh.query("sql/records/batch_excursions", params, scope=scope),
        deviations=wh.query("sql/records/batch_deviations", params, scope=scope),
        stages=vein_to_vein(batch),
    )


def vein_to_vein(batch: pd.Series) -> pd.DataFrame:
    """The batch's stages from collection to infusion that have happened, with the days each took since
    the previous one: where the vein-to-vein days went."""
    rows, previous = [], None
    for column, stage in VEIN_TO_VEIN_STAGES:
        at = batch.get(column)
        if at is None or pd.isna(at):
            continue
        at = pd.Timestamp(at)
        rows.append({"stage": stage, "at": at,
                     "days": None if previous is None else (at - previous).total_seconds() / 86400})
        previous = at
    return pd.DataFrame(rows, columns=["stage", "at", "days"])
