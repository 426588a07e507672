"""Alert and action limits: the defaults per parameter and cleanroom grade (the rows of `limits`, room '*'),
a sensor's effective limits and their thresholds, and the identity of an excursion beyond them (shared by
the live excursion engine, ingest/excursions.py, and the sample generator, which must agree on both)."""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

logger = logging.getLogger(__name__)

LEVELS = ("alert", "action")
SIDES = ("high", "low")

GRADES = ("A", "B", "C", "D")
# Alert levels for particles sit at this fraction of the action limit until a room has enough
# history to set them from its own trend (EU GMP Annex 1 (2022) expects alert levels based on
# area performance). 50 % gives early warning well before the Table 5 action limit.
PARTICLE_ALERT_FRACTION = 0.5

ANNEX1_TABLE5 = "EU GMP Annex 1 (2022) Table 5, in operation"
# Annex 1 Table 5 maximum limits for total particles per m3, in operation. Grade D in operation
# is not predetermined: the site sets it from its risk assessment, so it has no default here.
PARTICLES_IN_OPERATION = {
    "particles_0_5": {"A": 3_520.0, "B": 352_000.0, "C": 3_520_000.0, "D": None},
    "particles_5_0": {"A": 29.0, "B": 2_930.0, "C": 29_300.0, "D": None},
}

COLUMNS = ("parameter", "grade", "room_id", "alert_low", "alert_high", "action_low", "action_high",
           "alert_delay_s", "action_delay_s", "hysteresis", "basis")


def default_limits() -> pd.DataFrame:
    """One row per (parameter, grade) with room_id '*'; NULL (NaN) means 'no limit on that side'."""
    rows: list[dict] = []
    for grade in GRADES:
        rows.append(_row(
            "temperature", grade, alert=(18.5, 21.5), action=(18.0, 22.0), delays=(300, 60), hysteresis=0.2,
            basis="Site default 18-22 degC (no GMP value; product and operator comfort); alert 0.5 degC inside",
        ))
        rows.append(_row(
            "humidity", grade, alert=(35.0, 55.0), action=(30.0, 60.0), delays=(600, 300), hysteresis=1.0,
            basis="Site default 30-60 %RH (no GMP value; static and microbial growth); alert 5 %RH inside",
        ))
        rows.append(_row(
            "diff_pressure", grade, alert=(12.0, None), action=(10.0, None), delays=(60, 30), hysteresis=0.5,
            basis="EU GMP Annex 1 (2022): >= 10 Pa between adjacent grades (guidance value); alert at 12 Pa",
        ))
        for parameter, by_grade in PARTICLES_IN_OPERATION.items():
            action = by_grade[grade]
            if action is None:
                basis = "EU GMP Annex 1 (2022) Table 5: grade D in operation not predetermined; set per room"
                alert = None
            else:
                basis = f"{ANNEX1_TABLE5}; alert at {PARTICLE_ALERT_FRACTION:.0%} of action"
                alert = action * PARTICLE_ALERT_FRACTION
            rows.append(_row(parameter, grade, alert=(None, alert), action=(None, action), delays=(0, 0),
                             hysteresis=0.0, basis=basis))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("alert_low", "alert_high", "action_low", "action_high", "hysteresis"):
        frame[col] = frame[col].astype("float64")
    return frame


def _row(parameter: str, grade: str, *, alert: tuple, action: tuple, delays: tuple[int, int],
         hysteresis: float, basis: str) -> dict:
    return {
        "parameter": parameter, "grade": grade, "room_id": "*",
        "alert_low": alert[0], "alert_high": alert[1], "action_low": action[0], "action_high": action[1],
        "alert_delay_s": delays[0], "action_delay_s": delays[1], "hysteresis": hysteresis, "basis": basis,
    }


@dataclass(frozen=True)
class SensorLimits:
    """One sensor with its effective limits (room override, else the grade default)."""

    sensor_id: str
    room_id: str
    site_id: str
    parameter: str
    alert_low: float | None = None
    alert_high: float | None = None
    action_low: float | None = None
    action_high: float | None = None
    alert_delay_s: float = 0.0
    action_delay_s: float = 0.0
    hysteresis: float = 0.0

    def thresholds(self) -> tuple[Threshold, ...]:
        found = []
        for level in LEVELS:
            for side in SIDES:
                bound = getattr(self, f"{level}_{side}")
                if bound is None or (isinstance(bound, float) and math.isnan(bound)):
                    continue
                found.append(Threshold(level, side, float(bound), float(getattr(self, f"{level}_delay_s")),
                                       float(self.hysteresis or 0.0)))
        return tuple(found)


@dataclass(frozen=True)
class Threshold:
    level: str
    side: str
    bound: float
    delay_s: float
    hysteresis: float

    def beyond(self, value: float) -> bool:
        return value > self.bound if self.side == "high" else value < self.bound

    def held(self, value: float) -> bool:
        if self.side == "high":
            return value > self.bound - self.hysteresis
        return value < self.bound + self.hysteresis

    def worse(self, a: float, b: float) -> float:
        return max(a, b) if self.side == "high" else min(a, b)


def excursion_id(limits: SensorLimits, level: str, started_at: datetime) -> str:
    digest = hashlib.sha1(f"{limits.sensor_id}|{level}|{started_at.isoformat()}".encode()).hexdigest()[:6]
    return f"EXC-{limits.site_id}-{started_at:%Y%m%d%H%M%S}-{digest}"
