"""Writes one batch of messages in one transaction: readings, rollups, latest values, quarantine,
heartbeats and the excursions (with proposed deviations) the batch causes.

The caller acknowledges the messages to the broker only after `write` has returned, i.e. after the
commit: a crash in between re-delivers them, and the unique msg_id makes the re-delivery a no-op
(the insert returns only rows that were new, so rollups and the engine count each reading once).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from ingest.excursions import Change, ExcursionEngine, ExcursionRecord, History, SensorLimits
from ingest.validation import DEFAULT_LIMITS, Limits, Reading, Rejected, SensorInfo, validate
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse
from queries.imports import ingest_store
from queries.notifications import outbox

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 60
SENSOR_REFRESH_S = 60
UNKNOWN_SENSOR_REFRESH_S = 5
# Provisional classification of a proposed deviation, by parameter; the investigation confirms or
# replaces it. Codes and SOPs are the network's reference list (sample_data/reference.py).
PROPOSED_CLASSIFICATION = {
    "temperature": ("ENV-HVAC", "SOP-006"),
    "humidity": ("ENV-HVAC", "SOP-006"),
    "diff_pressure": ("ENV-PRESSURE", "SOP-006"),
    "particles_0_5": ("ENV-PARTICLES", "SOP-005"),
    "particles_5_0": ("ENV-PARTICLES", "SOP-005"),
}
PROPOSED_SEVERITY = "major"  # an action-limit excursion is major until the investigation says otherwise


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Message:
    """One message as received; `ack` (bridge only) is called after the batch has committed."""

    topic: str
    payload: bytes
    received_at: datetime
    ack: Callable[[], object] | None = None
    published_at: float | None = None  # set by benchmarks only


@dataclass
class BatchResult:
    messages: int
    inserted: int
    duplicates: int
    quarantined: int
    changes: list[Change] = field(default_factory=list)
    committed_at: datetime | None = None
    dead_lettered: int = 0  # neither stored nor quarantined: in the dead-letter file (ingest/dead_letter.py)


def _none_if_nan(value):
    return None if value is None or (isinstance(value, float) and value != value) else value


class IngestWriter:
    """Validates and writes batches for one process; holds the sensor registry and the engine state."""

    def __init__(self, warehouse: Warehouse, *, limits: Limits = DEFAULT_LIMITS, source: str = "mqtt-bridge",
                 reorder_window_s: float = 3600, clock: Callable[[], datetime] = utc_now,
                 public_url: str = Settings.public_url, notify_on_clear: bool = Settings.notify_on_clear):
        self.wh = warehouse
        self.public_url = public_url  # links in notifications
        self.notify_on_clear = notify_on_clear
        self.limits = limits
        self.source = source
        # Fed by the sensor simulator ("simulator", "embedded-simulator"): its excursions are logged as simulated.
        self.simulated = "simulator" in source
        self.clock = clock
        self.engine = ExcursionEngine({}, reorder_window_s=reorder_window_s)
        self.sensors: dict[str, SensorInfo] = {}
        self._refreshed_at = 0.0
        self._heartbeat_at: dict[str, datetime] = {}
        self.refresh_sensors()

    # -- sensor registry -------------------------------------------------------------------
    def refresh_sensors(self) -> None:
        frame = self.wh.query("ingest/sensor_limits")
        sensors, limits = {}, {}
        for row in frame.to_dict("records"):
            sensors[row["sensor_id"]] = SensorInfo(row["sensor_id"], row["room_id"], row["site_id"],
                                                   row["parameter"], row["unit"])
            limits[row["sensor_id"]] = SensorLimits(
                sensor_id=row["sensor_id"], room_id=row["room_id"], site_id=row["site_id"],
                parameter=row["parameter"],
                **{k: _none_if_nan(row[k]) for k in ("alert_low", "alert_high", "action_low", "action_high")},
                alert_delay_s=float(_none_if_nan(row["alert_delay_s"]) or 0),
                action_delay_s=float(_none_if_nan(row["action_delay_s"]) or 0),
                hysteresis=float(_none_if_nan(row["hysteresis"]) or 0))
        self.sensors = sensors
        self.engine.set_limits(limits)
        self._refreshed_at = time.monotonic()

    def _validate(self, messages: list[Message], now: datetime) -> list[Reading | Rejected]:
        if time.monotonic() - self._refreshed_at > SENSOR_REFRESH_S:
            self.refresh_sensors()
        checked = [validate(m.topic, m.payload, self.sensors, now, self.limits) for m in messages]
        unknown = [i for i, c in enumerate(checked) if isinstance(c, Rejected) and c.reason.code == "unknown_sensor"]
        if unknown and time.monotonic() - self._refreshed_at > UNKNOWN_SENSOR_REFRESH_S:
            self.refresh_sensors()  # a sensor registered since the last refresh
            for i in unknown:
                checked[i] = validate(messages[i].topic, messages[i].payload, self.sensors, now, self.limits)
        return checked

    # -- one batch -------------------------------------------------------------------------
    def write(self, messages: list[Message]) -> BatchResult:
        now = self.clock()
        checked = self._validate(messages, now)
        readings: dict[str, Reading] = {}
        rejected: list[tuple[Message, Rejected]] = []
        for message, item in zip(messages, checked, strict=True):
            if isinstance(item, Rejected):
                rejected.append((message, item))
            elif item.msg_id not in readings:  # a duplicate inside the batch counts as a duplicate
                readings[item.msg_id] = item
        columns = {"sensor_id": [r.sensor_id for r in readings.values()], "ts": [r.ts for r in readings.values()],
                   "value": [r.value for r in readings.values()], "msg_id": list(readings)}
        quarantined = {"received_at": [m.received_at for m, _ in rejected], "topic": [r.topic for _, r in rejected],
                       "payload": [r.payload for _, r in rejected], "reason": [str(r.reason) for _, r in rejected]}
        touched: set[str] = set(columns["sensor_id"])
        try:
            with self.wh.transaction() as conn:
                new = ingest_store.insert_readings(self.wh, conn, columns)
                if new:
                    ingest_store.add_new_to_rollups_and_latest(self.wh, conn, now)
                ingest_store.quarantine(self.wh, conn, quarantined)
                self._heartbeats(conn, new, now)
                changes = self._excursions(conn, new, now, touched)
        except Exception:
            self.engine.forget(touched)  # rolled back: rebuild these sensors from the warehouse
            raise
        for _, item in rejected:
            logger.info("quarantined %s: %s", item.topic, item.reason)
        valid = len(messages) - len(rejected)
        return BatchResult(messages=len(messages), inserted=len(new), duplicates=valid - len(new),
                           quarantined=len(rejected), changes=changes, committed_at=self.clock())

    def _heartbeats(self, conn, new: list[tuple], now: datetime) -> None:
        sites = {self.sensors[s].site_id for s, _, _ in new if s in self.sensors}
        due = [s for s in sorted(sites)
               if now - self._heartbeat_at.get(s, datetime.min) >= timedelta(seconds=HEARTBEAT_EVERY_S)]
        self.wh.execute(conn, "ingest/insert_heartbeat",
                             [{"source": self.source, "site_id": s, "ts": now} for s in due])
        # Remembered before commit; a rollback only delays the next heartbeat by a minute.
        self._heartbeat_at.update(dict.fromkeys(due, now))

    def _excursions(self, conn, new: list[tuple], now: datetime, touched: set[str]) -> list[Change]:
        if not new:
            return []
        batch: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for sensor_id, ts, value in new:
            batch[sensor_id].append((ts, float(value)))  # naive UTC datetimes from the driver
        wanted = self.engine.wants_history(batch)
        history = self._load_history(conn, wanted) if wanted else {}
        touched.update(history)
        changes = self.engine.process(batch, now, history)
        for change in changes:
            self._persist(conn, change, now)
        return changes

    def _load_history(self, conn, wanted: dict[str, datetime]) -> dict[str, History]:
        since = min(wanted.values())
        params = {"ids": sorted(wanted), "since": since}
        records = self.wh.fetch(conn, "ingest/excursions_for_sensors", params)
        points = self.wh.fetch(conn, "ingest/readings_for_sensors", params)
        history = {s: History(since=t, points=[]) for s, t in wanted.items()}
        for row in records.to_dict("records"):
            history[row["sensor_id"]].records.append(ExcursionRecord(
                excursion_id=row["excursion_id"], sensor_id=row["sensor_id"], room_id=row["room_id"],
                site_id=row["site_id"], parameter=row["parameter"], level=row["level"],
                started_at=pd.Timestamp(row["started_at"]).to_pydatetime(),
                detected_at=pd.Timestamp(row["detected_at"]).to_pydatetime(),
                ended_at=None if pd.isna(row["ended_at"]) else pd.Timestamp(row["ended_at"]).to_pydatetime(),
                peak=float(row["peak"]), deviation_id=_none_if_nan(row["deviation_id"])))
        for sensor_id, ts, value in zip(points["sensor_id"], pd.to_datetime(points["ts"]), points["value"],
                                        strict=True):
            entry = history[sensor_id]
            if ts >= entry.since:
                entry.points.append((ts.to_pydatetime(), float(value)))
        return history

    def _persist(self, conn, change: Change, now: datetime) -> None:
        rec = change.record
        if change.kind == "new":
            if rec.level == "action":
                rec.deviation_id = self._propose_deviation(conn, rec, now)
                track = self.engine.tracks.get(rec.sensor_id)
                if track is not None and rec.excursion_id in track.records:
                    track.records[rec.excursion_id].deviation_id = rec.deviation_id
            self.wh.execute(conn, "ingest/insert_excursion", {
                "excursion_id": rec.excursion_id, "sensor_id": rec.sensor_id, "room_id": rec.room_id,
                "site_id": rec.site_id, "parameter": rec.parameter, "level": rec.level,
                "started_at": rec.started_at, "detected_at": rec.detected_at, "ended_at": rec.ended_at,
                "peak": rec.peak, "deviation_id": rec.deviation_id})
            # The messages its rules call for, committed with the excursion (queries/notifications/outbox.py).
            outbox.queue_excursion(self.wh, conn, rec, public_url=self.public_url, simulated=self.simulated)
            if self.simulated:  # the demo simulator's planned excursions: not a real room going out of limits
                logger.info("simulated excursion %s (from the %s): %s %s in %s (peak %s)", rec.excursion_id,
                            self.source, rec.level, rec.parameter, rec.room_id, rec.peak)
            else:
                logger.warning("excursion %s: %s %s in %s (peak %s)", rec.excursion_id, rec.level, rec.parameter,
                               rec.room_id, rec.peak)
            return
        self.wh.execute(conn, "ingest/update_excursion", {
            "excursion_id": rec.excursion_id, "started_at": rec.started_at, "ended_at": rec.ended_at,
            "peak": rec.peak})
        if self.notify_on_clear and rec.ended_at is not None and change.previous is not None \
                and change.previous.ended_at is None:  # it just ended: those told of it hear so
            outbox.queue_cleared(self.wh, conn, rec, at=now, public_url=self.public_url)
        if change.previous is not None and rec.started_at != change.previous.started_at:
            self.wh.execute(conn, "ingest/update_deviation_occurred",
                                 {"excursion_id": rec.excursion_id, "occurred_at": rec.started_at})

    def _propose_deviation(self, conn, rec: ExcursionRecord, now: datetime) -> str:
        batches = self.wh.fetch(conn, "ingest/batches_in_room", {
            "room_id": rec.room_id, "since": rec.started_at, "until": rec.ended_at or now})
        batch_ids = list(batches["batch_id"])
        code, sop = PROPOSED_CLASSIFICATION.get(rec.parameter, ("ENV-HVAC", "SOP-006"))
        deviation_id = "DEV-" + rec.excursion_id.removeprefix("EXC-")
        impact = f"; batches in the room: {', '.join(batch_ids)}" if batch_ids else "; no batch in the room"
        self.wh.execute(conn, "ingest/insert_deviation_proposal", {
            "deviation_id": deviation_id, "site_id": rec.site_id, "batch_id": batch_ids[0] if batch_ids else None,
            "occurred_at": rec.started_at, "detected_at": rec.detected_at, "severity": PROPOSED_SEVERITY,
            "root_cause_code": code, "sop_id": sop, "excursion_id": rec.excursion_id,
            "description": (f"Proposed from action-level excursion {rec.excursion_id}: {rec.parameter} in "
                            f"{rec.room_id}, peak {rec.peak:g}{impact}. Severity and root cause are "
                            "provisional until QA review."),
        })
        return deviation_id
