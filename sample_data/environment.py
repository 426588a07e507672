"""Environmental monitoring history: readings per sensor, injected excursions, outages, heartbeats.

Each sensor's background process (level + daily and seasonal cycle + AR(1) drift + white noise, or
Poisson particle counts) is kept inside its alert band by construction, so every excursion in the
data is an injected, documented one: the CHI drift story, and a few random short events per site.
Excursions are then found in the final series by the same rule the live monitor uses (crossing
longer than the delay, closing with hysteresis), so the excursion rows always agree with the readings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from queries.analyses.limits import SensorLimits, excursion_id
from sample_data.network import Network
from sample_data.reference import ACK_COMMENTS, ACTION_ACK_COMMENT, rng_for

logger = logging.getLogger(__name__)

DAY_S = 86_400
STORY_SENSOR = "CHI-B1-T"
DRIFT_DEGC_PER_DAY = 0.05
DRIFT_BASE_OFFSET = -0.5  # CHI-B1 runs cool, so the drift crosses alert only in its last week
DRIFT_CAP = 21.9  # the drift alone never reaches the action limit: the valve failure does
DRIFT_EVENT_PEAK = 22.9
EVENTS_PER_SITE_YEAR = 2.5
ACTION_EVENT_SHARE = 0.15
OUTAGES_PER_SITE_YEAR = 1.5
DROPOUT_RATE = 2e-4  # isolated lost readings


@dataclass(frozen=True)
class ContinuousModel:
    mean: dict[str, float]  # per grade
    offset_sd: float  # sensor-to-sensor level differences
    diurnal: float  # amplitude, peak mid-afternoon local time
    seasonal: float  # amplitude, peak in summer
    ar_sd: float  # stationary sd of the slow AR(1) component
    tau_s: float  # its correlation time
    white_sd: float
    decimals: int


def _grades(value: float) -> dict[str, float]:
    return dict.fromkeys("ABCD", value)


MODELS = {
    "temperature": ContinuousModel(_grades(20.0), 0.25, 0.2, 0.15, 0.12, 7200, 0.03, 2),
    "humidity": ContinuousModel(_grades(45.0), 2.0, 1.0, 4.0, 1.2, 21600, 0.3, 1),
    "diff_pressure": ContinuousModel({"A": 30.0, "B": 20.0, "C": 17.0, "D": 16.0}, 1.0, 0.0, 0.0, 0.6, 1800,
                                     0.25, 1),
}
# Particle medians per m3: (in operation, at rest). Operation = local Mon-Sat 07:00-19:00.
PARTICLE_MEDIANS = {
    ("particles_0_5", "A"): (150.0, 30.0),
    ("particles_0_5", "B"): (15_000.0, 2_500.0),
    ("particles_5_0", "A"): (1.0, 0.2),
    ("particles_5_0", "B"): (120.0, 20.0),
}
PARTICLE_CAP = 0.8  # background counts stay below this fraction of the alert level


@dataclass(frozen=True)
class SiteClock:
    """The reading grid of one site (seconds since the epoch, naive UTC) and its local time."""

    ts: np.ndarray
    local_hour: np.ndarray
    day_of_year: np.ndarray
    in_operation: np.ndarray


def to_seconds(value) -> int:
    return int(pd.Timestamp(value).value // 1_000_000_000)


def to_datetimes(seconds: np.ndarray) -> np.ndarray:
    return np.asarray(seconds, dtype="int64").astype("datetime64[s]").astype("datetime64[us]")


def merge_windows(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    if len(starts) == 0:
        return starts, ends
    running_end = np.maximum.accumulate(ends)
    new = np.concatenate([[True], starts[1:] > running_end[:-1]])
    return starts[new], np.maximum.reduceat(ends, np.flatnonzero(new))


def in_windows(ts: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    if len(starts) == 0:
        return np.zeros(len(ts), dtype=bool)
    idx = np.searchsorted(starts, ts, side="right") - 1
    return (idx >= 0) & (ts < ends[np.maximum(idx, 0)])


def plan_outages(network: Network, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Gateway outages per site: no readings and no heartbeats. NYC gets the story silence (e)."""
    st = network.stories
    protected = [(st.drift_event_start, st.drift_event_end), (st.silence_start, st.silence_end)]
    protected_s = [(to_seconds(a) - 2 * DAY_S, to_seconds(b) + 2 * DAY_S) for a, b in protected]
    end_s = to_seconds(st.end)
    outages = {}
    for site in network.sites.itertuples(index=False):
        rng = rng_for(seed, "outages", site.site_id)
        first = to_seconds(site.active_from)
        n = rng.poisson(OUTAGES_PER_SITE_YEAR * (end_s - first) / (365 * DAY_S))
        starts = rng.integers(first + DAY_S, end_s - DAY_S, size=n)
        ends = starts + rng.integers(3600, 4 * 3600, size=n)
        keep = np.ones(n, dtype=bool)
        for lo, hi in protected_s:
            keep &= (ends <= lo) | (starts >= hi)
        starts, ends = starts[keep], ends[keep]
        if site.site_id == "NYC":
            starts = np.append(starts, to_seconds(st.silence_start))
            ends = np.append(ends, to_seconds(st.silence_end))
        outages[site.site_id] = merge_windows(starts.astype("int64"), ends.astype("int64"))
    return outages


def site_clock(network: Network, site_id: str, outages: tuple[np.ndarray, np.ndarray]) -> SiteClock:
    site = network.sites.set_index("site_id").loc[site_id]
    interval = network.scale.interval_s
    start_s, end_s = to_seconds(network.start), to_seconds(network.end)
    first = start_s + -(-(to_seconds(site["active_from"]) - start_s) // interval) * interval
    ts = np.arange(first, end_s, interval, dtype="int64")
    ts = ts[~in_windows(ts, *outages)]
    local = pd.DatetimeIndex(to_datetimes(ts)).tz_localize("UTC").tz_convert(site["timezone"])
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    weekday = local.day_of_week.to_numpy()
    return SiteClock(
        ts=ts,
        local_hour=hour,
        day_of_year=local.day_of_year.to_numpy().astype(float),
        in_operation=(weekday < 6) & (hour >= 7) & (hour < 19),
    )


def background(parameter: str, grade: str, clock: SiteClock, limit: dict, interval_s: int,
               rng: np.random.Generator, offset: float | None = None) -> np.ndarray:
    n = len(clock.ts)
    if parameter.startswith("particles"):
        operating, rest = PARTICLE_MEDIANS[(parameter, grade)]
        median = np.where(clock.in_operation, operating, rest)
        counts = rng.poisson(median * rng.lognormal(0.0, 0.5, n)).astype(float)
        return np.minimum(counts, np.floor(PARTICLE_CAP * limit["alert_high"]))
    model = MODELS[parameter]
    level = model.mean[grade] + (rng.normal(0.0, model.offset_sd) if offset is None else offset)
    phi = np.exp(-interval_s / model.tau_s)
    innovations = rng.normal(0.0, model.ar_sd * np.sqrt(1 - phi**2), n)
    if n:
        innovations[0] = rng.normal(0.0, model.ar_sd)
    values = (
        level
        + model.diurnal * np.sin(2 * np.pi * (clock.local_hour - 9.0) / 24.0)
        + model.seasonal * np.sin(2 * np.pi * (clock.day_of_year - 110.0) / 365.25)
        + lfilter([1.0], [1.0, -phi], innovations)
        + rng.normal(0.0, model.white_sd, n)
    )
    if parameter == "diff_pressure":
        values -= 0.5 * clock.in_operation  # doors open during operation
    low = limit["alert_low"] + limit["hysteresis"] if pd.notna(limit["alert_low"]) else -np.inf
    high = limit["alert_high"] - limit["hysteresis"] if pd.notna(limit["alert_high"]) else np.inf
    return np.clip(values, low, high)


def apply_event(ts: np.ndarray, values: np.ndarray, start_s: int, duration_s: int, peak: float,
                rng: np.random.Generator) -> None:
    """Trapezoid towards `peak` (25 % ramp up, plateau, 25 % ramp down), in place."""
    sel = np.flatnonzero((ts >= start_s) & (ts < start_s + duration_s))
    if len(sel) == 0:
        return
    frac = (ts[sel] - start_s) / duration_s
    shape = np.clip(np.minimum(frac, 1.0 - frac) / 0.25, 0.0, 1.0)
    target = peak * (1.0 + rng.normal(0.0, 0.01, len(sel)))
    values[sel] += shape * (target - values[sel])


def plan_events(network: Network, limits: dict, seed: int) -> pd.DataFrame:
    """A few random short excursion events per site (alert level; ~15 % reach action)."""
    interval = network.scale.interval_s
    end_s = to_seconds(network.end)
    rows = []
    for site in network.sites.itertuples(index=False):
        rng = rng_for(seed, "events", site.site_id)
        sensors = network.sensors[(network.sensors.site_id == site.site_id)
                                  & (network.sensors.sensor_id != STORY_SENSOR)].reset_index(drop=True)
        first = to_seconds(site.active_from)
        n = rng.poisson(EVENTS_PER_SITE_YEAR * (end_s - first) / (365 * DAY_S))
        picks = rng.integers(0, len(sensors), size=n)
        starts = rng.integers(first + DAY_S, end_s - DAY_S, size=n)
        action = rng.random(n) < ACTION_EVENT_SHARE
        position = rng.uniform(0.25, 0.75, n)
        beyond = rng.uniform(0.1, 1.0, n)
        durations = rng.uniform(1200, 10800, n)
        for i in range(n):  # a handful per site
            sensor = sensors.iloc[picks[i]]
            lim = limits[(sensor.parameter, sensor.grade)]
            side = "high" if pd.notna(lim["alert_high"]) else "low"
            alert, act = lim[f"alert_{side}"], lim[f"action_{side}"]
            gap = act - alert
            peak = act + beyond[i] * gap if action[i] else alert + position[i] * gap
            delay = lim["action_delay_s" if action[i] else "alert_delay_s"]
            duration = max(durations[i], 4 * interval + delay)
            rows.append((sensor.sensor_id, int(starts[i]), int(duration), float(peak)))
    return pd.DataFrame(rows, columns=["sensor_id", "start_s", "duration_s", "peak"])


def detect_excursions(ts: np.ndarray, values: np.ndarray, limit: dict) -> pd.DataFrame:
    """Excursions in one series, by the live engine's rules (ingest/excursions.py), vectorised.

    Starts at the first reading beyond the limit, ends at the first reading back inside the limit
    minus the hysteresis, counts once it has lasted the delay; detected_at = the confirming reading.
    """
    found = []
    n = len(ts)
    hyst = limit["hysteresis"]
    for level in ("alert", "action"):
        delay = int(limit[f"{level}_delay_s"])
        for side in ("high", "low"):
            bound = limit[f"{level}_{side}"]
            if pd.isna(bound) or n == 0:
                continue
            trigger = values > bound if side == "high" else values < bound
            if not trigger.any():
                continue
            hold = values > bound - hyst if side == "high" else values < bound + hyst
            edges = np.diff(np.concatenate([[0], hold.astype(np.int8), [0]]))
            run_start, run_end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            trig_idx = np.flatnonzero(trigger)
            run_of = np.searchsorted(run_start, trig_idx, side="right") - 1
            runs, first = np.unique(run_of, return_index=True)
            s_idx, e_idx = trig_idx[first], run_end[runs]
            padded = np.append(values, values[-1])
            reducer = np.maximum if side == "high" else np.minimum
            peaks = reducer.reduceat(padded, np.ravel(np.column_stack([s_idx, e_idx])))[::2]
            started = ts[s_idx]
            ended = np.where(e_idx < n, ts[np.minimum(e_idx, n - 1)], -1)
            # Confirmed by the first reading at least `delay` after the start, still in the episode or
            # the one ending it; an episode still open at the end of the data needs one inside it.
            confirm = np.searchsorted(ts, started + delay, side="left")
            keep = (confirm <= e_idx) & (confirm < n)
            found.append(pd.DataFrame({
                "level": level,
                "started_s": started[keep],
                "ended_s": ended[keep],
                "detected_s": ts[np.minimum(confirm, n - 1)][keep],
                "peak": peaks[keep],
            }))
    if not found:
        return pd.DataFrame(columns=["level", "started_s", "ended_s", "detected_s", "peak"])
    return pd.concat(found, ignore_index=True)


def sensor_series(network: Network, sensor, clock: SiteClock, limit: dict, events: pd.DataFrame,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    st = network.stories
    rng = rng_for(seed, "readings", sensor.sensor_id)
    story = sensor.sensor_id == STORY_SENSOR
    interval = network.scale.interval_s
    values = background(sensor.parameter, sensor.grade, clock, limit, interval, rng,
                        offset=DRIFT_BASE_OFFSET if story else None)
    ts = clock.ts
    if story:  # (a) slow drift, capped under the action limit, then the valve failure
        drift_s, event_s, event_end_s = (to_seconds(x) for x in
                                         (st.drift_start, st.drift_event_start, st.drift_event_end))
        in_drift = (ts >= drift_s) & (ts < event_end_s)
        values[in_drift] += DRIFT_DEGC_PER_DAY * (ts[in_drift] - drift_s) / DAY_S
        before_event = in_drift & (ts < event_s)
        values[before_event] = np.minimum(values[before_event], DRIFT_CAP)
        apply_event(ts, values, event_s, event_end_s - event_s, DRIFT_EVENT_PEAK, rng)
    for event in events.itertuples(index=False):
        apply_event(ts, values, event.start_s, event.duration_s, event.peak, rng)
    decimals = 0 if sensor.parameter.startswith("particles") else MODELS[sensor.parameter].decimals
    values = np.round(np.maximum(values, 0.0), decimals)
    keep = rng.random(len(ts)) >= DROPOUT_RATE
    return ts[keep], values[keep]


def generate_readings(network: Network, limits: dict, outages: dict, seed: int
                      ) -> Iterator[tuple[str, np.ndarray, np.ndarray, pd.DataFrame]]:
    """Per sensor, in a fixed order: (sensor_id, ts seconds, values, excursions found)."""
    events = plan_events(network, limits, seed)
    by_sensor = dict(tuple(events.groupby("sensor_id")))
    empty = events.iloc[0:0]
    for site_id, sensors in network.sensors.groupby("site_id", sort=False):
        clock = site_clock(network, site_id, outages[site_id])
        for sensor in sensors.itertuples(index=False):
            limit = limits[(sensor.parameter, sensor.grade)]
            ts, values = sensor_series(network, sensor, clock, limit, by_sensor.get(sensor.sensor_id, empty),
                                       seed)
            found = detect_excursions(ts, values, limit)
            found.insert(0, "sensor_id", sensor.sensor_id)
            yield sensor.sensor_id, ts, values, found


def readings_frame(parts: list[tuple[str, np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One insert-ready frame for several sensors (sensor ids as a categorical: no per-row strings)."""
    lengths = [len(ts) for _, ts, _ in parts]
    codes = np.repeat(np.arange(len(parts), dtype=np.int32), lengths)
    return pd.DataFrame({
        "sensor_id": pd.Categorical.from_codes(codes, [sid for sid, _, _ in parts]),
        "ts": to_datetimes(np.concatenate([ts for _, ts, _ in parts])),
        "value": np.concatenate([v for _, _, v in parts]),
    })


def heartbeats(network: Network, outages: dict) -> pd.DataFrame:
    """One heartbeat per site gateway per hour while the gateway is up."""
    frames = []
    end_s = to_seconds(network.end)
    for site in network.sites.itertuples(index=False):
        first = -(-to_seconds(site.active_from) // 3600) * 3600
        hours = np.arange(first, end_s, 3600, dtype="int64")
        hours = hours[~in_windows(hours, *outages[site.site_id])]
        frames.append(pd.DataFrame({"source": f"gw-{site.site_id.lower()}", "site_id": site.site_id,
                                    "ts": to_datetimes(hours)}))
    return pd.concat(frames, ignore_index=True)


def finish_excursions(found: list[pd.DataFrame], network: Network, seed: int) -> pd.DataFrame:
    """Excursion rows with ids, site/room/parameter, and acknowledgement for all but the last week."""
    frame = pd.concat(found, ignore_index=True)
    frame = frame.merge(network.sensors[["sensor_id", "room_id", "site_id", "parameter"]], on="sensor_id")
    frame = frame.sort_values(["site_id", "started_s", "sensor_id", "level"], kind="stable").reset_index(drop=True)
    frame["started_at"] = to_datetimes(frame["started_s"])
    frame["excursion_id"] = [  # the live engine's ids, so a replay of the history finds the same records
        excursion_id(SensorLimits(r.sensor_id, r.room_id, r.site_id, r.parameter), r.level,
                     pd.Timestamp(r.started_at).to_pydatetime())
        for r in frame[["sensor_id", "room_id", "site_id", "parameter", "level", "started_at"]].itertuples()
    ]
    rng = rng_for(seed, "acknowledgements")
    ack_s = frame["detected_s"] + rng.lognormal(np.log(2 * 3600), 1.0, len(frame)).astype("int64")
    acked = ack_s < to_seconds(network.end) - 7 * DAY_S
    frame["detected_at"] = to_datetimes(frame["detected_s"])
    frame["ended_at"] = pd.Series(to_datetimes(frame["ended_s"])).where(frame["ended_s"] >= 0)
    frame["acknowledged_at"] = pd.Series(to_datetimes(ack_s)).where(acked)
    frame["acknowledged_by"] = ("qa." + frame["site_id"].str.lower()).where(acked)
    comments = np.array(ACK_COMMENTS)
    comment = np.where(frame["level"] == "action", ACTION_ACK_COMMENT,
                       comments[rng.integers(0, len(comments), len(frame))])
    frame["ack_comment"] = pd.Series(comment).where(acked)
    frame["deviation_id"] = None
    return frame.drop(columns=["started_s", "ended_s", "detected_s"])
