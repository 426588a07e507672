"""Sensor simulator: the sample network's sensors publishing live readings, with drift scenarios.

Background values follow the sample network's levels (sample_data/environment.py) with slow
random-walk wander and noise, clipped inside the alert band so that every excursion comes from the
scenario, never from chance:

- demo (default): repeats every 10 minutes. ~15 s after start a particle burst in a grade A isolator
  (action level at once: particle limits have no delay) and a temperature rise in a grade B room
  that holds above the 22 degC action limit for three minutes (confirmed after its 60 s delay).
- drift: the grade B temperature creeps up 0.01 degC/s until it sits above the action limit.
- spikes: random short particle bursts anywhere (about one per sensor-hour).
- calm: no excursions.

Messages go to a sink: an MQTT publish, or (embedded mode) the ingest service in this process.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from ingest.validation import SensorInfo, payload_for, topic_for
from ingest.writer import utc_now
from queries.analyses.limits import SensorLimits

logger = logging.getLogger(__name__)

SCENARIOS = ("demo", "drift", "spikes", "calm")
DEMO_CYCLE_S = 600
DEMO_BURST = (15.0, 75.0)  # particle burst window within the cycle (s)
DEMO_RISE = (5.0, 25.0, 205.0, 235.0)  # temperature: ramp up, hold, ramp down (s within the cycle)
DEMO_TEMPERATURE_PEAK = 22.6
DEMO_SITE = "CHI"  # the sample network's story site, when present
DRIFT_DEGC_PER_S = 0.01
SPIKE_RATE_PER_S = 1 / 3600

# Typical levels per parameter and grade (the sample network's, in operation).
LEVEL = {"temperature": 20.0, "humidity": 45.0}
DP_LEVEL = {"A": 30.0, "B": 20.0, "C": 17.0, "D": 16.0}
PARTICLE_LEVEL = {("particles_0_5", "A"): 150.0, ("particles_0_5", "B"): 15_000.0,
                  ("particles_5_0", "A"): 1.0, ("particles_5_0", "B"): 120.0}
WANDER_SD = {"temperature": 0.05, "humidity": 0.4, "diff_pressure": 0.3}
DECIMALS = {"temperature": 2, "humidity": 1, "diff_pressure": 1}


@dataclass(frozen=True)
class SimSensor(SensorLimits):
    """A sensor with its effective limits (queries/analyses/limits.py) and what publishing needs besides."""

    unit: str = field(kw_only=True)
    grade: str = field(kw_only=True)

    @property
    def info(self) -> SensorInfo:
        return SensorInfo(self.sensor_id, self.room_id, self.site_id, self.parameter, self.unit)


def sensors_from_frame(frame: pd.DataFrame) -> list[SimSensor]:
    """From rows with sensor_id, room_id, site_id, parameter, unit, grade and optional limit columns."""
    def num(row: dict, key: str) -> float | None:
        value = row.get(key)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    return [SimSensor(row["sensor_id"], row["room_id"], row["site_id"], row["parameter"],
                      num(row, "alert_low"), num(row, "alert_high"), num(row, "action_low"), num(row, "action_high"),
                      hysteresis=num(row, "hysteresis") or 0.0, unit=row["unit"], grade=row["grade"])
            for row in frame.to_dict("records")]


def sample_network_sensors(scale: str = "small") -> list[SimSensor]:
    """The sample network's sensors with the default limits (when the warehouse cannot be read)."""
    from queries.analyses.limits import default_limits
    from sample_data.network import SCALES, build_network

    network = build_network(SCALES[scale], datetime(2000, 1, 1))
    frame = network.sensors.merge(default_limits().drop(columns=["room_id"]), on=["parameter", "grade"], how="left")
    return sensors_from_frame(frame)


class SensorSimulator:
    def __init__(self, sensors: Iterable[SimSensor], *, interval_s: float = 5.0, scenario: str = "demo",
                 seed: int | None = None, topic_prefix: str = ""):
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        self.sensors = list(sensors)
        self.interval_s = float(interval_s)
        self.scenario = scenario
        self.prefix = topic_prefix
        self.rng = np.random.default_rng(seed)
        self.run_id = uuid.uuid4().hex[:8]
        self.seq = 0
        self.offsets = {s.sensor_id: 0.0 for s in self.sensors}
        self.spikes: dict[str, float] = {}  # sensor -> burst end (elapsed s)
        self.burst_sensor = self._pick("particles_0_5", "A")
        self.rise_sensor = self._pick("temperature", "B")

    def _pick(self, parameter: str, grade: str) -> str | None:
        fits = [s for s in self.sensors if s.parameter == parameter and s.grade == grade]
        preferred = [s for s in fits if s.site_id == DEMO_SITE]
        chosen = (preferred or fits or [None])[0]
        return chosen.sensor_id if chosen else None

    # -- values ----------------------------------------------------------------------------
    def _background(self, s: SimSensor) -> float:
        if s.parameter.startswith("particles"):
            median = PARTICLE_LEVEL.get((s.parameter, s.grade), 100.0)
            value = float(self.rng.poisson(median * self.rng.lognormal(0.0, 0.3)))
        else:
            base = DP_LEVEL.get(s.grade, 15.0) if s.parameter == "diff_pressure" else LEVEL.get(s.parameter, 0.0)
            sd = WANDER_SD.get(s.parameter, 0.1)
            # Mean-reverting wander (AR(1)) plus noise: moves visibly, stays near the level.
            self.offsets[s.sensor_id] = 0.9 * self.offsets[s.sensor_id] + self.rng.normal(0.0, sd)
            value = base + self.offsets[s.sensor_id] + self.rng.normal(0.0, sd / 3)
        low = s.alert_low + s.hysteresis if s.alert_low is not None else -math.inf
        high = s.alert_high - s.hysteresis if s.alert_high is not None else math.inf
        return min(max(value, low), high)

    def _scenario(self, s: SimSensor, value: float, elapsed: float) -> float:
        if self.scenario == "demo":
            t = elapsed % DEMO_CYCLE_S
            if s.sensor_id == self.burst_sensor and DEMO_BURST[0] <= t < DEMO_BURST[1] and s.action_high:
                return s.action_high * 1.6 * (1 + self.rng.normal(0, 0.03))
            if s.sensor_id == self.rise_sensor:
                up, hold, down, back = DEMO_RISE
                if up <= t < hold:
                    return value + (DEMO_TEMPERATURE_PEAK - value) * (t - up) / (hold - up)
                if hold <= t < down:
                    return DEMO_TEMPERATURE_PEAK + self.rng.normal(0, 0.05)
                if down <= t < back:
                    return DEMO_TEMPERATURE_PEAK + (value - DEMO_TEMPERATURE_PEAK) * (t - down) / (back - down)
        elif self.scenario == "drift" and s.sensor_id == self.rise_sensor:
            return min(value + DRIFT_DEGC_PER_S * elapsed, DEMO_TEMPERATURE_PEAK + 0.4)
        elif self.scenario == "spikes" and s.parameter.startswith("particles") and s.action_high:
            end = self.spikes.get(s.sensor_id)
            if end is None and self.rng.random() < SPIKE_RATE_PER_S * self.interval_s:
                end = self.spikes[s.sensor_id] = elapsed + 30.0
            if end is not None:
                if elapsed < end:
                    return s.action_high * 1.2
                del self.spikes[s.sensor_id]
        return value

    def messages(self, now: datetime, elapsed_s: float) -> list[tuple[str, bytes]]:
        """One reading per sensor at `now` (naive UTC), `elapsed_s` after the simulator started."""
        out = []
        for s in self.sensors:
            value = self._scenario(s, self._background(s), elapsed_s)
            value = round(value) if s.parameter.startswith("particles") else round(value, DECIMALS[s.parameter])
            self.seq += 1
            out.append((topic_for(s.info, self.prefix),
                        payload_for(f"sim-{self.run_id}-{self.seq}", now, max(value, 0.0), s.unit)))
        return out

    # -- running ---------------------------------------------------------------------------
    def run(self, sink: Callable[[str, bytes], object], stop: threading.Event,
            clock: Callable[[], datetime] = utc_now) -> None:
        started = clock()
        logger.info("simulator: %d sensors every %.1f s, scenario %s", len(self.sensors), self.interval_s,
                    self.scenario)
        while not stop.is_set():
            now = clock()
            for topic, payload in self.messages(now, (now - started).total_seconds()):
                sink(topic, payload)
            stop.wait(self.interval_s)

    def start(self, sink: Callable[[str, bytes], object]) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(sink, stop), name="sensor-simulator", daemon=True)
        thread.start()
        return thread, stop
