"""The excursion engine: readings in, excursions (start, detection, end, peak) out. Pure, no I/O.

Rules (EU GMP Annex 1 (2022) limits are maxima, so a value *equal* to a limit is within it):

- Each limit side is a threshold: alert_high, action_high (value > bound is beyond) and alert_low,
  action_low (value < bound is beyond). Alert and action are tracked independently, so an action
  excursion normally sits inside a longer alert excursion of the same sensor.
- An episode starts at the first reading beyond the bound. It continues while readings stay beyond
  the bound *minus the hysteresis* (high side; plus it on the low side) and ends at the first reading
  back inside that band (ended_at = that reading's time). With zero hysteresis a reading exactly at
  the limit ends an episode.
- An episode becomes an excursion once it has lasted at least the limit's delay: at a reading still
  in the episode at least `delay_s` after the start, or at the reading that ends the episode when
  that comes at least `delay_s` after the start (a reading stands until the next one arrives). A
  delay of 0 opens the excursion at the first reading beyond the limit. Shorter episodes are
  transients and leave no record.
- detected_at is when the hub knew: the processing time, never earlier than the confirming reading.
- Out-of-order readings: each sensor keeps the readings of the last `reorder_window_s` seconds and
  re-evaluates them in time order when a late reading falls among them. A reading older than that
  window asks the caller for the sensor's stored history (`wants_history`), which is replayed.
- A confirmed excursion is never withdrawn (it was shown and may have been acted on): late readings
  can move its start earlier, its end later and its peak further, or open a new excursion. A late
  reading that would split one keeps the record whole.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from queries.analyses.limits import SensorLimits, Threshold, excursion_id

logger = logging.getLogger(__name__)

DEFAULT_REORDER_WINDOW_S = 3600


class Episode:
    """A run beyond one threshold; `confirmed_at` is set once it has lasted the delay."""

    __slots__ = ("threshold", "started_at", "peak", "confirmed_at", "ended_at", "excursion_id")

    def __init__(self, threshold: Threshold, started_at: datetime, peak: float,
                 confirmed_at: datetime | None = None, ended_at: datetime | None = None,
                 excursion_id: str | None = None):
        self.threshold = threshold
        self.started_at = started_at
        self.peak = peak
        self.confirmed_at = confirmed_at
        self.ended_at = ended_at
        self.excursion_id = excursion_id

    def copy(self) -> Episode:
        return Episode(self.threshold, self.started_at, self.peak, self.confirmed_at, self.ended_at,
                       self.excursion_id)

    def __repr__(self) -> str:
        t = self.threshold
        return (f"Episode({t.level}/{t.side} {self.started_at:%H:%M:%S}->"
                f"{'open' if self.ended_at is None else f'{self.ended_at:%H:%M:%S}'} peak={self.peak} "
                f"confirmed={self.confirmed_at is not None})")


def _lasted(start: datetime, ts: datetime, delay_s: float) -> bool:
    return (ts - start).total_seconds() >= delay_s


def step(threshold: Threshold, state: Episode | None, ts: datetime, value: float,
         finished: list[Episode]) -> Episode | None:
    """Fold one reading into one threshold's state; confirmed episodes that end go to `finished`."""
    if state is None:
        if not threshold.beyond(value):
            return None
        return Episode(threshold, ts, value, ts if threshold.delay_s <= 0 else None)
    if threshold.held(value):
        state.peak = threshold.worse(state.peak, value)
        if state.confirmed_at is None and _lasted(state.started_at, ts, threshold.delay_s):
            state.confirmed_at = ts
        return state
    # Back inside the hysteresis band: the episode ends here (this reading cannot start a new one).
    if state.confirmed_at is None and _lasted(state.started_at, ts, threshold.delay_s):
        state.confirmed_at = ts
    state.ended_at = ts
    if state.confirmed_at is not None:
        finished.append(state)
    return None


def detect_series(points: Iterable[tuple[datetime, float]], limits: SensorLimits) -> list[Episode]:
    """Confirmed episodes of one sensor's series (sorted here), the last ones possibly still open."""
    thresholds = limits.thresholds()
    states: list[Episode | None] = [None] * len(thresholds)
    finished: list[Episode] = []
    for ts, value in sorted(points, key=lambda p: p[0]):
        for i, th in enumerate(thresholds):
            states[i] = step(th, states[i], ts, value, finished)
    finished.extend(s for s in states if s is not None and s.confirmed_at is not None)
    return sorted(finished, key=lambda e: (e.started_at, e.threshold.level))


@dataclass
class ExcursionRecord:
    """An excursion as stored (one row of `excursions`)."""

    excursion_id: str
    sensor_id: str
    room_id: str
    site_id: str
    parameter: str
    level: str
    started_at: datetime
    detected_at: datetime
    ended_at: datetime | None
    peak: float
    deviation_id: str | None = None
    side: str | None = None  # 'high' or 'low'; not stored (inferred from the peak when loaded)

    def overlaps(self, ep: Episode) -> bool:
        """Same level and side, and the time spans touch."""
        if self.level != ep.threshold.level or self.side not in (None, ep.threshold.side):
            return False
        far = datetime.max
        return ep.started_at <= (self.ended_at or far) and self.started_at <= (ep.ended_at or far)


@dataclass(frozen=True)
class Change:
    kind: str  # 'new' or 'update'
    record: ExcursionRecord
    previous: ExcursionRecord | None = None


@dataclass
class History:
    """A sensor's stored readings since `since` (this batch's included) and its excursions overlapping it."""

    since: datetime
    points: list[tuple[datetime, float]]
    records: list[ExcursionRecord] = field(default_factory=list)


class SensorTrack:
    """One sensor's state: a folded base, the recent readings after it, and the known records."""

    def __init__(self, limits: SensorLimits, base_ts: datetime, base: list[Episode | None],
                 records: Iterable[ExcursionRecord] = ()):
        self.limits = limits
        self.thresholds = limits.thresholds()
        self.base_ts = base_ts  # readings at or before this time are folded into `base`
        self.base = base
        self.tail: list[tuple[datetime, int, float]] = []  # (ts, arrival seq, value), sorted
        self.states: list[Episode | None] = [e.copy() if e else None for e in base]
        self.finished: list[Episode] = []
        # (ts, seq, len(finished)) after each tail reading that left every threshold idle: a late
        # reading is replayed from the last such point before it, not from the base.
        self.idle: list[tuple[datetime, int, int]] = []
        self.records: dict[str, ExcursionRecord] = {}
        for rec in records:
            if rec.side is None:  # which side of its level the stored peak lies on
                sides = [th.side for th in self.thresholds if th.level == rec.level and th.held(rec.peak)]
                rec.side = sides[0] if sides else None
            self.records[rec.excursion_id] = rec
        self._seq = 0

    @classmethod
    def from_history(cls, limits: SensorLimits, history: History) -> SensorTrack:
        """Start from the stored records open at `since` (other thresholds idle), then replay."""
        thresholds = limits.thresholds()
        base: list[Episode | None] = [None] * len(thresholds)
        for rec in history.records:
            if rec.started_at < history.since and (rec.ended_at is None or rec.ended_at >= history.since):
                for i, th in enumerate(thresholds):
                    if (th.level == rec.level and base[i] is None and th.held(rec.peak)
                            and rec.side in (None, th.side)):
                        base[i] = Episode(th, rec.started_at, rec.peak, rec.detected_at, None, rec.excursion_id)
                        break
        track = cls(limits, history.since - timedelta(microseconds=1), base, history.records)
        track.add(history.points)
        return track

    def add(self, points: Iterable[tuple[datetime, float]]) -> None:
        """Add readings (any order, all after base_ts); replays the tail if one lands inside it."""
        points = sorted(points, key=lambda p: p[0])
        if not points:
            return
        if self.tail and points[0][0] < self.tail[-1][0]:
            first = None
            for ts, value in points:
                self._seq += 1
                bisect.insort(self.tail, (ts, self._seq, value))
                first = first or (ts, self._seq)
            self._replay_from(first)
            return
        start = len(self.tail)
        for ts, value in points:
            self._seq += 1
            self.tail.append((ts, self._seq, value))
        self._fold_tail(start)

    def _fold(self, ts: datetime, value: float, states: list[Episode | None], finished: list[Episode]) -> None:
        for i, th in enumerate(self.thresholds):
            states[i] = step(th, states[i], ts, value, finished)

    def _fold_tail(self, start: int) -> None:
        for ts, seq, value in self.tail[start:]:
            self._fold(ts, value, self.states, self.finished)
            if not any(self.states):
                self.idle.append((ts, seq, len(self.finished)))

    def _replay_from(self, key: tuple[datetime, int]) -> None:
        """Re-evaluate the tail from the last all-idle point before `key` (else from the base)."""
        mark = bisect.bisect_left(self.idle, (key[0], key[1], -1)) - 1
        if mark >= 0:
            ts, seq, n_finished = self.idle[mark]
            del self.idle[mark + 1:]
            self.states = [None] * len(self.thresholds)
            del self.finished[n_finished:]
            start = bisect.bisect_right(self.tail, (ts, seq, math.inf))
        else:
            self.idle = []
            self.states = [e.copy() if e else None for e in self.base]
            self.finished = []
            start = 0
        self._fold_tail(start)

    def confirmed(self) -> list[Episode]:
        return self.finished + [s for s in self.states if s is not None and s.confirmed_at is not None]

    def reconcile(self, now: datetime, id_factory=excursion_id) -> list[Change]:
        """Match confirmed episodes to known records: update them, or create new records."""
        changes = []
        for ep in sorted(self.confirmed(), key=lambda e: e.started_at):
            level = ep.threshold.level
            rec = self.records.get(ep.excursion_id) if ep.excursion_id else None
            if rec is None:
                candidates = [r for r in self.records.values() if r.overlaps(ep)]
                rec = min(candidates, key=lambda r: r.started_at) if candidates else None
            if rec is None:
                # A record whose start moved earlier keeps the id of its first start; a new episode that
                # starts there must not take that id (it replaced the other record: one excursion lost).
                new_id, n = id_factory(self.limits, level, ep.started_at), 2
                while new_id in self.records:
                    new_id, n = f"{id_factory(self.limits, level, ep.started_at)}-{n}", n + 1
                rec = ExcursionRecord(
                    excursion_id=new_id,
                    sensor_id=self.limits.sensor_id, room_id=self.limits.room_id, site_id=self.limits.site_id,
                    parameter=self.limits.parameter, level=level, started_at=ep.started_at,
                    detected_at=max(now, ep.confirmed_at), ended_at=ep.ended_at, peak=ep.peak,
                    side=ep.threshold.side)
                self.records[rec.excursion_id] = rec
                ep.excursion_id = rec.excursion_id
                changes.append(Change("new", replace(rec)))
                continue
            ep.excursion_id = rec.excursion_id
            before = replace(rec)
            rec.started_at = min(rec.started_at, ep.started_at)
            rec.peak = ep.threshold.worse(rec.peak, ep.peak)
            if rec.ended_at is None or ep.ended_at is None:
                rec.ended_at = ep.ended_at if rec.ended_at is None else rec.ended_at
            else:
                rec.ended_at = max(rec.ended_at, ep.ended_at)
            if (rec.started_at, rec.peak, rec.ended_at) != (before.started_at, before.peak, before.ended_at):
                changes.append(Change("update", replace(rec), before))
        return changes

    def compact(self, window_s: float) -> None:
        """Fold readings older than the window into the base; forget records that cannot change."""
        if not self.tail:
            return
        horizon = self.tail[-1][0] - timedelta(seconds=window_s)
        cut = bisect.bisect_left(self.tail, (horizon, -1, -math.inf))
        if cut == 0:
            return
        base = [e.copy() if e else None for e in self.base]
        dropped: list[Episode] = []
        for ts, _, value in self.tail[:cut]:
            self._fold(ts, value, base, dropped)
        known = {(e.threshold, e.started_at): e.excursion_id for e in self.confirmed() if e.excursion_id}
        for e in base:
            if e is not None and e.excursion_id is None:
                e.excursion_id = known.get((e.threshold, e.started_at))
        cut_key = self.tail[cut - 1][:2]
        self.base, self.base_ts, self.tail = base, self.tail[cut - 1][0], self.tail[cut:]
        # Folding the prefix from the base repeats the original computation, so the episodes that
        # ended inside it are exactly the first len(dropped) of `finished`.
        removed = len(dropped)
        self.finished = self.finished[removed:]
        self.idle = [(ts, seq, n - removed) for ts, seq, n in self.idle if (ts, seq) > cut_key]
        open_ids = {e.excursion_id for e in base if e is not None}
        self.records = {k: r for k, r in self.records.items()
                        if r.ended_at is None or r.ended_at > self.base_ts or k in open_ids}


class ExcursionEngine:
    """Tracks every sensor seen; the writer feeds it each committed batch of new readings."""

    def __init__(self, limits: Mapping[str, SensorLimits], *, reorder_window_s: float = DEFAULT_REORDER_WINDOW_S,
                 id_factory=excursion_id):
        self.limits = dict(limits)
        self.reorder_window_s = reorder_window_s
        self.id_factory = id_factory
        self.tracks: dict[str, SensorTrack] = {}

    def set_limits(self, limits: Mapping[str, SensorLimits]) -> None:
        """New limits (e.g. a room override): tracks whose limits changed are rebuilt from history."""
        for sensor_id, new in limits.items():
            if self.limits.get(sensor_id) != new:
                self.tracks.pop(sensor_id, None)
        self.limits = dict(limits)

    def forget(self, sensor_ids: Iterable[str]) -> None:
        """Drop in-memory state (after a failed transaction): rebuilt from the warehouse next time."""
        for sensor_id in sensor_ids:
            self.tracks.pop(sensor_id, None)

    def wants_history(self, batch: Mapping[str, list[tuple[datetime, float]]]) -> dict[str, datetime]:
        """Sensors whose state must be (re)built from stored history, with the time to load from."""
        wanted = {}
        for sensor_id, points in batch.items():
            limits = self.limits.get(sensor_id)
            if limits is None or not points or not limits.thresholds():
                continue
            earliest = min(ts for ts, _ in points)
            track = self.tracks.get(sensor_id)
            if track is None or earliest <= track.base_ts:
                wanted[sensor_id] = earliest - timedelta(seconds=self.reorder_window_s)
        return wanted

    def process(self, batch: Mapping[str, list[tuple[datetime, float]]], now: datetime,
                history: Mapping[str, History] | None = None) -> list[Change]:
        """New readings per sensor -> excursion changes. Sensors in `history` are rebuilt from it
        (their history already holds this batch's readings)."""
        history = history or {}
        changes: list[Change] = []
        for sensor_id in sorted(set(batch) | set(history)):
            limits = self.limits.get(sensor_id)
            if limits is None or not limits.thresholds():
                continue
            if sensor_id in history:
                track = SensorTrack.from_history(limits, history[sensor_id])
                self.tracks[sensor_id] = track
            else:
                track = self.tracks.get(sensor_id)
                if track is None:
                    raise KeyError(f"sensor {sensor_id} has no state; ask wants_history() first")
                track.add(batch[sensor_id])
            changes.extend(track.reconcile(now, self.id_factory))
            track.compact(self.reorder_window_s)
        return changes

