"""Checks one MQTT message against the payload schema and the sensor registry: a Reading or a reason.

Pure: no I/O, the clock is an argument. The schema is declared once (PAYLOAD_FIELDS) and every
rejection names the field and the rule, so a quarantined message says exactly why it was refused.
Per-message checks are plain Python rather than a DataFrame schema (pandera): they run once per
message on the ingest hot path, where building a frame per message would cost more than the write.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

logger = logging.getLogger(__name__)

# topic: [prefix]site/<site>/room/<room>/sensor/<sensor>
TOPIC_LEVELS = ("site", "room", "sensor")
MSG_ID_MAX_CHARS = 128
STORED_PAYLOAD_MAX_BYTES = 4096  # what quarantine keeps of a payload, raw (an oversized one is cut)

# The payload schema: field -> (accepted JSON types, what it means). Extra fields are ignored.
PAYLOAD_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "msg_id": ((str,), "publisher's unique message id (de-duplication key)"),
    "ts": ((str, int, float), "measurement time: ISO 8601 (Z or offset; no zone = UTC) or epoch seconds"),
    "value": ((int, float), "the measured value, a finite number"),
    "unit": ((str,), "unit of the value; must equal the sensor's registered unit"),
}


@dataclass(frozen=True)
class SensorInfo:
    sensor_id: str
    room_id: str
    site_id: str
    parameter: str
    unit: str


# Values no sensor of the parameter can measure (a count below zero, humidity above 100 %, below
# absolute zero): a faulty sensor or gateway, never a reading. Differential pressure may be negative
# (a pressure reversal is a real excursion).
PHYSICAL_RANGE: dict[str, tuple[float | None, float | None]] = {
    "particles_0_5": (0.0, None),
    "particles_5_0": (0.0, None),
    "humidity": (0.0, 100.0),
    "temperature": (-273.15, None),
}


@dataclass(frozen=True)
class Reading:
    sensor_id: str
    ts: datetime  # naive UTC
    value: float
    msg_id: str


@dataclass(frozen=True)
class QuarantineReason:
    code: str  # machine-readable: oversized_payload, malformed_json, unknown_sensor, ...
    detail: str  # human-readable: names the field and the rule

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True)
class Rejected:
    topic: str
    payload: bytes  # the raw bytes as received (any bytes, NULs too), cut to STORED_PAYLOAD_MAX_BYTES
    reason: QuarantineReason


@dataclass(frozen=True)
class Limits:
    """The validation thresholds (from Settings)."""

    max_payload_bytes: int = 4096
    max_future_s: int = 300
    max_age_days: int = 30
    topic_prefix: str = ""


DEFAULT_LIMITS = Limits()


def stored_payload(payload: bytes) -> bytes:
    """What quarantine keeps of a payload: its first STORED_PAYLOAD_MAX_BYTES bytes, unchanged."""
    return bytes(payload[:STORED_PAYLOAD_MAX_BYTES])


def _reject(topic: str, payload: bytes, code: str, detail: str) -> Rejected:
    return Rejected(topic, stored_payload(payload), QuarantineReason(code, detail))


def parse_topic(topic: str, prefix: str = "") -> tuple[str, str, str] | None:
    """(site, room, sensor) from '<prefix>site/<s>/room/<r>/sensor/<x>', or None."""
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix):].split("/")
    if len(parts) != 6 or tuple(parts[0::2]) != TOPIC_LEVELS or not all(parts[1::2]):
        return None
    return parts[1], parts[3], parts[5]


def parse_ts(raw) -> datetime:
    """Naive UTC datetime from an ISO 8601 string or epoch seconds; ValueError otherwise."""
    if isinstance(raw, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError("epoch seconds must be finite")
        return datetime.fromtimestamp(raw, UTC).replace(tzinfo=None)
    text = raw.strip()
    if not text or len(text) > 40:
        raise ValueError("not an ISO 8601 time")
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def validate(topic: str, payload: bytes, sensors: Mapping[str, SensorInfo], now: datetime,
             limits: Limits = DEFAULT_LIMITS) -> Reading | Rejected:
    """The Reading a message carries, or why it must go to quarantine. `now` is naive UTC."""
    if len(payload) > limits.max_payload_bytes:
        return _reject(topic, payload, "oversized_payload",
                       f"{len(payload)} bytes, more than the {limits.max_payload_bytes} allowed")
    where = parse_topic(topic, limits.topic_prefix)
    if where is None:
        return _reject(topic, payload, "bad_topic",
                       f"topic is not {limits.topic_prefix}site/<site>/room/<room>/sensor/<sensor>")
    site_id, room_id, sensor_id = where
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _reject(topic, payload, "malformed_json", f"payload is not UTF-8 ({exc.reason})")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return _reject(topic, payload, "malformed_json", str(exc)[:200])
    if not isinstance(body, dict):
        return _reject(topic, payload, "malformed_json", f"payload is a JSON {type(body).__name__}, not an object")
    for name, (types, meaning) in PAYLOAD_FIELDS.items():
        if name not in body:
            return _reject(topic, payload, "missing_field", f"field {name!r} is missing ({meaning})")
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, types):
            return _reject(topic, payload, "wrong_type",
                           f"field {name!r} is a JSON {type(value).__name__}; expected {meaning}")
    msg_id = body["msg_id"].strip()
    if not msg_id or len(msg_id) > MSG_ID_MAX_CHARS or not msg_id.isprintable():
        return _reject(topic, payload, "bad_msg_id", f"msg_id must be 1-{MSG_ID_MAX_CHARS} printable characters")
    value = float(body["value"])
    if not math.isfinite(value):  # NaN > limit is False: a NaN would pass every limit check silently
        return _reject(topic, payload, "not_finite", f"value {body['value']!r} is not a finite number")
    sensor = sensors.get(sensor_id)
    if sensor is None:
        return _reject(topic, payload, "unknown_sensor", f"sensor {sensor_id!r} is not registered")
    low, high = PHYSICAL_RANGE.get(sensor.parameter, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        return _reject(topic, payload, "out_of_range",
                       f"value {value:g} is physically impossible for {sensor.parameter} "
                       f"(possible: {'no lower bound' if low is None else f'>= {low:g}'}"
                       f"{'' if high is None else f', <= {high:g}'})")
    if (sensor.site_id, sensor.room_id) != (site_id, room_id):
        return _reject(topic, payload, "topic_mismatch",
                       f"sensor {sensor_id} is registered in site {sensor.site_id} room {sensor.room_id}, "
                       f"topic says site {site_id} room {room_id}")
    claimed = body.get("sensor_id")
    if claimed is not None and claimed != sensor_id:
        return _reject(topic, payload, "topic_mismatch", f"payload sensor_id {claimed!r} differs from topic")
    if body["unit"] != sensor.unit:
        return _reject(topic, payload, "unit_mismatch",
                       f"unit {body['unit']!r} does not match sensor unit {sensor.unit!r}")
    try:
        ts = parse_ts(body["ts"])
    except (ValueError, OverflowError, OSError) as exc:
        return _reject(topic, payload, "bad_timestamp", f"ts {str(body['ts'])[:60]!r}: {exc}")
    if ts > now + timedelta(seconds=limits.max_future_s):
        return _reject(topic, payload, "future_timestamp",
                       f"ts {ts.isoformat()}Z is more than {limits.max_future_s} s ahead of {now.isoformat()}Z")
    if ts < now - timedelta(days=limits.max_age_days):
        return _reject(topic, payload, "stale_timestamp",
                       f"ts {ts.isoformat()}Z is more than {limits.max_age_days} days old")
    return Reading(sensor_id=sensor_id, ts=ts, value=value, msg_id=msg_id)


def payload_for(msg_id: str, ts: datetime, value: float, unit: str) -> bytes:
    """The JSON a sensor (or the simulator) publishes; ts naive UTC."""
    return json.dumps({"msg_id": msg_id, "ts": ts.isoformat(timespec="milliseconds") + "Z",
                       "value": value, "unit": unit}, separators=(",", ":")).encode()


def topic_for(sensor: SensorInfo, prefix: str = "") -> str:
    return f"{prefix}site/{sensor.site_id}/room/{sensor.room_id}/sensor/{sensor.sensor_id}"
