"""Live environmental monitoring: reads for the tiles, trends and excursion lists, and the
electronic-signature acknowledgement of an excursion. Every read runs under a server-built scope."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from queries.engine.scope import NotFound, Scope
from queries.engine.warehouse import Warehouse
from queries.notifications import outbox
from queries.records import audit, esignature

logger = logging.getLogger(__name__)

PARAMETER_LABELS = {
    "temperature": "Temperature",
    "humidity": "Relative humidity",
    "diff_pressure": "Differential pressure",
    "particles_0_5": "Particles ≥ 0.5 µm",
    "particles_5_0": "Particles ≥ 5 µm",
}
UNIT_LABELS = {"degC": "°C", "pct_rh": "% RH", "Pa": "Pa", "count_m3": "/m³"}
TREND_WINDOWS = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7),
                 "30d": timedelta(days=30), "365d": timedelta(days=365)}
DEFAULT_TREND_WINDOW = "24h"
GRAIN_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MAX_TREND_POINTS = 2000  # per trace: never more is shipped to the browser
EXCURSION_LIST_DAYS = 30
ACK_ROLES = frozenset({"leadership", "site_manager"})
ACK_COMMENT_MAX = 1000
SIGNATURE_MEANING = ("Acknowledgement: I have reviewed this excursion and its potential product impact, "
                     "and I take responsibility for its follow-up.")
# What the acknowledging signature decides about the deviation the excursion proposed (if any): leave it
# for QA review, confirm it (then it is a deviation and counts in the KPIs) or reject it.
DEVIATION_DECISIONS = {"keep": None, "confirm": "confirmed", "reject": "rejected"}


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def band(value, row) -> str:
    """'action', 'alert' or 'ok' for a value against a row's limits. A value equal to a limit is
    within it (Annex 1 limits are maxima; the low-side limits are minima)."""
    if _missing(value):
        return "none"
    for level in ("action", "alert"):
        high, low = row.get(f"{level}_high"), row.get(f"{level}_low")
        if (not _missing(high) and value > high) or (not _missing(low) and value < low):
            return level
    return "ok"


def live_values(wh: Warehouse, scope: Scope, now: datetime, stale_after_s: int) -> pd.DataFrame:
    """Sensors of the scope's sites with limits, newest value, its age, stale flag and band."""
    frame = wh.query("monitoring/live_values", scope=scope)
    latest = pd.to_datetime(frame["latest_ts"])
    frame["age_s"] = (pd.Timestamp(now) - latest).dt.total_seconds()
    frame["stale"] = latest.isna() | (frame["age_s"] > stale_after_s)
    frame["band"] = [band(v, r) for v, r in zip(frame["latest_value"], frame.to_dict("records"), strict=True)]
    return frame


def sites_status(wh: Warehouse, scope: Scope, now: datetime, stale_after_s: int) -> pd.DataFrame:
    return wh.query("monitoring/sites_status", {"fresh_since": now - timedelta(seconds=stale_after_s)},
                    scope=scope)


def choose_grain(window: timedelta, max_points: int = MAX_TREND_POINTS) -> str:
    """The finest rollup grain that keeps a window within `max_points` buckets."""
    for grain, seconds in GRAIN_SECONDS.items():
        if window.total_seconds() / seconds <= max_points:
            return grain
    return "day"


def trend(wh: Warehouse, scope: Scope, sensor_id: str, since: datetime, until: datetime,
          max_points: int = MAX_TREND_POINTS) -> tuple[pd.DataFrame, str]:
    """Rollup buckets of one sensor (never raw readings). Minute buckets exist only for live data, so a
    minute-grain window is completed with hourly buckets before the first minute bucket."""
    grain = choose_grain(until - since, max_points)
    params = {"sensor_id": sensor_id, "since": since, "until": until}
    fine = wh.query("monitoring/trend", {**params, "grain": grain}, scope=scope).assign(grain=grain)
    if grain == "minute":
        first = pd.Timestamp(fine["bucket"].min()) if not fine.empty else pd.Timestamp(until)
        coarse = wh.query("monitoring/trend", {**params, "grain": "hour", "until": first.floor("h").to_pydatetime()},
                          scope=scope).assign(grain="hour")
        fine = pd.concat([coarse, fine], ignore_index=True) if not coarse.empty else fine
    return fine.tail(max_points).reset_index(drop=True), grain


def sensor_excursions(wh: Warehouse, scope: Scope, sensor_id: str, since: datetime, until: datetime) -> pd.DataFrame:
    return wh.query("monitoring/sensor_excursions", {"sensor_id": sensor_id, "since": since, "until": until},
                    scope=scope)


def impact(wh: Warehouse, scope: Scope, excursion_ids: list[str], now: datetime) -> pd.DataFrame:
    """Batches in each excursion's room while it lasted (potential product impact)."""
    if not excursion_ids:
        return pd.DataFrame(columns=["excursion_id", "batch_id", "product", "status", "started_at", "completed_at"])
    return wh.query("monitoring/excursion_impact", {"ids": list(excursion_ids), "now": now}, scope=scope)


def excursions(wh: Warehouse, scope: Scope, now: datetime, days: int = EXCURSION_LIST_DAYS) -> pd.DataFrame:
    """Open excursions and those of the last `days`, each with its impacted batch ids (a list)."""
    frame = wh.query("monitoring/excursions", {"since": now - timedelta(days=days), "until": now}, scope=scope)
    hits = impact(wh, scope, list(frame["excursion_id"]), now)
    batches = hits.groupby("excursion_id")["batch_id"].agg(list).to_dict() if not hits.empty else {}
    frame["batches"] = [batches.get(x, []) for x in frame["excursion_id"]]
    return frame


def open_excursions(wh: Warehouse, scope: Scope) -> tuple[pd.DataFrame, dict[str, int]]:
    """Open excursions of the scope's sites, and network-wide counts by level (anonymised)."""
    frame = wh.query("monitoring/open_excursions", scope=scope)
    network = wh.query("monitoring/open_excursions_network", scope=scope)
    return frame, {str(r.level): int(r.n) for r in network.itertuples()}


# --- acknowledgement (electronic signature) --------------------------------------------------------
class SignatureRefused(PermissionError):
    """The acknowledgement was not recorded; the message says why (shown to the user)."""


@dataclass(frozen=True)
class Acknowledged:
    excursion_id: str
    user_id: str
    at: datetime
    record_sha256: str


def may_acknowledge(role: str, own_site: str | None, excursion_site: str) -> bool:
    """Leadership anywhere; a site manager only at their own site; nobody else."""
    return role == "leadership" or (role == "site_manager" and own_site is not None and own_site == excursion_site)


def record_digest(row: dict, batches: list[str]) -> str:
    """sha256 of what is signed: the excursion as it stands and its potential product impact."""
    signed = {k: (None if _missing(row.get(k)) else str(row.get(k))) for k in
              ("excursion_id", "site_id", "room_id", "sensor_id", "parameter", "level", "started_at",
               "detected_at", "ended_at", "peak", "deviation_id")}
    signed["batches"] = sorted(batches)
    return hashlib.sha256(json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def acknowledge(wh: Warehouse, scope: Scope, *, user_id: str, role: str, own_site: str | None,
                excursion_id, password, comment, now: datetime, deviation_decision="keep",
                attempt_allowed: Callable[[], bool] | None = None,
                within: Callable[[object], None] | None = None, tell_notified: str | None = None) -> Acknowledged:
    """Sign off one excursion: role, scope, password and comment checked here, on the server; the
    update and its audit entry (who, when, what = record hash, why = comment, meaning) commit together.

    ``deviation_decision`` ('keep', 'confirm' or 'reject', ``DEVIATION_DECISIONS``) is what the same
    signature decides about the excursion's proposed deviation: only a confirmed one enters ``deviations``.
    ``within(conn)`` runs inside the acknowledgement's transaction (a remote link marked used with it); a
    SignatureRefused it raises undoes everything. ``tell_notified`` (the hub's public address, when
    ATMP_NOTIFY_ON_ACK) queues, in the same transaction, a message to everyone already notified of it.
    """
    def refuse(message: str, reason: str) -> SignatureRefused:
        esignature.audit_refusal(wh, user_id=user_id, action="excursion_ack_refused", object_type="excursion",
                                 object_id=excursion_id, reason=reason)
        return SignatureRefused(message)

    if role not in ACK_ROLES:
        raise refuse("Your role cannot acknowledge excursions.", f"role {role} may not acknowledge")
    if not isinstance(excursion_id, str) or not excursion_id:
        raise SignatureRefused("Choose an excursion to acknowledge.")
    found = wh.query("monitoring/excursion_get", {"excursion_id": excursion_id}, scope=scope)
    if found.empty:
        raise refuse("Excursion not found.", "excursion not found in the user's scope")
    row = found.iloc[0].to_dict()
    if not may_acknowledge(role, own_site, row["site_id"]):
        raise refuse("You may acknowledge excursions of your own site only.",
                     f"site manager of {own_site} may not acknowledge at {row['site_id']}")
    if not _missing(row["acknowledged_at"]):
        raise SignatureRefused(f"Already acknowledged by {row['acknowledged_by']}.")
    note = comment.strip() if isinstance(comment, str) else ""
    if not note:
        raise SignatureRefused("A comment is required: say what was reviewed and decided.")
    if len(note) > ACK_COMMENT_MAX:
        raise SignatureRefused(f"The comment is limited to {ACK_COMMENT_MAX} characters.")
    deviation_decision = "keep" if deviation_decision is None else deviation_decision  # not said: keep
    if not isinstance(deviation_decision, str) or deviation_decision not in DEVIATION_DECISIONS:
        raise SignatureRefused("Say what to do with the proposed deviation: keep, confirm or reject.")
    decision = DEVIATION_DECISIONS[deviation_decision]
    if decision is not None and _missing(row["deviation_id"]):
        raise SignatureRefused("This excursion proposed no deviation: there is nothing to confirm or reject.")
    try:
        esignature.check(wh, user_id=user_id, password=password, object_type="excursion", object_id=excursion_id,
                         meaning=SIGNATURE_MEANING, attempt_allowed=attempt_allowed)
    except esignature.SignatureFailed as failed:
        raise SignatureRefused(str(failed)) from None
    batches = list(impact(wh, scope, [excursion_id], now)["batch_id"])
    digest = record_digest(row, batches)
    with wh.transaction() as conn:
        updated = wh.execute(conn, "monitoring/acknowledge", {
            "excursion_id": excursion_id, "acknowledged_at": now, "acknowledged_by": user_id,
            "ack_comment": note}).fetchall()
        if not updated:
            raise SignatureRefused("Already acknowledged by someone else a moment ago.")
        if decision is not None:
            decided = wh.execute(conn, "monitoring/decide_deviation_proposal", {
                "excursion_id": excursion_id, "decision": decision, "decided_by": user_id,
                "decided_at": now}).fetchall()
            if not decided:
                raise SignatureRefused("The proposed deviation was already decided.")
            if decision == "confirmed":
                wh.execute(conn, "monitoring/confirm_deviation", {"deviation_id": row["deviation_id"]})
        if within is not None:
            within(conn)
        if tell_notified is not None:
            outbox.queue_acknowledged(wh, conn, excursion_id=excursion_id, site_id=row["site_id"], by=user_id,
                                      comment=note, at=now, public_url=tell_notified)
        audit.append(wh, user_id=user_id, action="excursion_acknowledged", object_type="excursion",
                     object_id=excursion_id, reason=note,
                     old_value=json.dumps({"acknowledged_at": None}),
                     new_value=json.dumps({"acknowledged_at": now.isoformat(), "acknowledged_by": user_id,
                                           "role": role, "record_sha256": digest, "batches": sorted(batches),
                                           "deviation_id": None if _missing(row["deviation_id"]) else row["deviation_id"],
                                           "deviation_decision": decision}),
                     meaning=SIGNATURE_MEANING, conn=conn)
    logger.info("excursion %s acknowledged by %s", excursion_id, user_id)
    return Acknowledged(excursion_id, user_id, now, digest)


__all__ = ["NotFound", "SignatureRefused", "acknowledge", "band", "excursions", "live_values", "open_excursions",
           "trend"]
