"""The payload checks: every bad message gets a named reason, a good one becomes a Reading."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ingest.validation import Limits, Reading, Rejected, SensorInfo, parse_topic, payload_for, validate

NOW = datetime(2026, 6, 1, 12, 0, 0)
SENSORS = {
    "CHI-B1-T": SensorInfo("CHI-B1-T", "CHI-B1", "CHI", "temperature", "degC"),
    "CHI-A1-P05": SensorInfo("CHI-A1-P05", "CHI-A1", "CHI", "particles_0_5", "count_m3"),
    "CHI-A1-RH": SensorInfo("CHI-A1-RH", "CHI-A1", "CHI", "humidity", "pct_rh"),
}
TOPIC = "site/CHI/room/CHI-B1/sensor/CHI-B1-T"


def body(**fields) -> bytes:
    base = {"msg_id": "m-1", "ts": "2026-06-01T11:59:58Z", "value": 20.5, "unit": "degC"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def test_valid_reading_is_parsed_to_naive_utc():
    got = validate(TOPIC, body(ts="2026-06-01T07:59:58-04:00"), SENSORS, NOW)
    assert got == Reading("CHI-B1-T", datetime(2026, 6, 1, 11, 59, 58), 20.5, "m-1")


def test_epoch_seconds_and_integer_values_are_accepted():
    got = validate(TOPIC, body(ts=datetime(2026, 6, 1, 11, 0).timestamp() + 0.0, value=21), SENSORS, NOW)
    assert isinstance(got, Reading) and got.value == 21.0


def test_round_trip_of_the_publisher_format():
    got = validate(TOPIC, payload_for("x", datetime(2026, 6, 1, 11, 0, 0, 250000), 19.75, "degC"), SENSORS, NOW)
    assert got == Reading("CHI-B1-T", datetime(2026, 6, 1, 11, 0, 0, 250000), 19.75, "x")


@pytest.mark.requirement("URS-ING-003")
@pytest.mark.parametrize(("topic", "payload", "code"), [
    (TOPIC, b"{not json", "malformed_json"),
    (TOPIC, b"\xff\xfe garbage", "malformed_json"),
    (TOPIC, b"[1, 2, 3]", "malformed_json"),
    (TOPIC, b"NaN", "malformed_json"),
    (TOPIC, body(value=...), "missing_field"),
    (TOPIC, body(msg_id=...), "missing_field"),
    (TOPIC, body(value="20.5"), "wrong_type"),
    (TOPIC, body(value=True), "wrong_type"),
    (TOPIC, body(value=None), "wrong_type"),
    (TOPIC, body(msg_id=""), "bad_msg_id"),
    (TOPIC, body(msg_id="x" * 200), "bad_msg_id"),
    (TOPIC, b'{"msg_id":"m","ts":"2026-06-01T11:59:58Z","value":NaN,"unit":"degC"}', "not_finite"),
    (TOPIC, b'{"msg_id":"m","ts":"2026-06-01T11:59:58Z","value":Infinity,"unit":"degC"}', "not_finite"),
    (TOPIC, b'{"msg_id":"m","ts":"2026-06-01T11:59:58Z","value":-Infinity,"unit":"degC"}', "not_finite"),
    (TOPIC, b'{"msg_id":"m","ts":"2026-06-01T11:59:58Z","value":1e999,"unit":"degC"}', "not_finite"),
    (TOPIC, body(unit="degF"), "unit_mismatch"),
    (TOPIC, body(unit="°C"), "unit_mismatch"),
    ("site/CHI/room/CHI-B1/sensor/CHI-B9-T", body(), "unknown_sensor"),
    ("site/ATL/room/ATL-B1/sensor/CHI-B1-T", body(), "topic_mismatch"),
    (TOPIC, body(sensor_id="CHI-A1-P05"), "topic_mismatch"),
    ("site/CHI/CHI-B1-T", body(), "bad_topic"),
    (TOPIC, body(ts="2026-06-01T12:30:00Z"), "future_timestamp"),
    (TOPIC, body(ts="2099-01-01T00:00:00Z"), "future_timestamp"),
    (TOPIC, body(ts=0), "stale_timestamp"),
    (TOPIC, body(ts="yesterday"), "bad_timestamp"),
    (TOPIC, body(ts=1e300), "bad_timestamp"),
    (TOPIC, body(ts=False), "wrong_type"),
    (TOPIC, b'{"pad":"' + b"x" * 5000 + b'"}', "oversized_payload"),
    ("site/CHI/room/CHI-A1/sensor/CHI-A1-P05", body(value=-5, unit="count_m3"), "out_of_range"),  # a count < 0
    ("site/CHI/room/CHI-A1/sensor/CHI-A1-RH", body(value=100.5, unit="pct_rh"), "out_of_range"),
    (TOPIC, body(value=-300.0), "out_of_range"),  # below absolute zero
])
def test_bad_messages_are_rejected_with_their_reason(topic, payload, code):
    got = validate(topic, payload, SENSORS, NOW)
    assert isinstance(got, Rejected), got
    assert got.reason.code == code, got.reason
    assert str(got.reason).startswith(f"{code}: ") and len(got.reason.detail) > 5


@pytest.mark.requirement("URS-ING-003")
def test_value_exactly_at_the_future_tolerance_is_accepted():
    limits = Limits(max_future_s=300)
    assert isinstance(validate(TOPIC, body(ts="2026-06-01T12:05:00Z"), SENSORS, NOW, limits), Reading)
    assert isinstance(validate(TOPIC, body(ts="2026-06-01T12:05:00.001Z"), SENSORS, NOW, limits), Rejected)


@pytest.mark.requirement("URS-ING-003")
def test_oversized_payload_is_kept_only_in_part():
    got = validate(TOPIC, b"x" * 1_000_000, SENSORS, NOW)
    assert got.reason.code == "oversized_payload" and len(got.payload) == 4096


def test_topic_prefix():
    assert parse_topic("test/abc/site/CHI/room/CHI-B1/sensor/CHI-B1-T", "test/abc/") == ("CHI", "CHI-B1", "CHI-B1-T")
    assert parse_topic("site/CHI/room/CHI-B1/sensor/CHI-B1-T", "test/abc/") is None
    assert parse_topic("site/CHI/room//sensor/CHI-B1-T") is None


@pytest.mark.requirement("URS-ING-003")
def test_physically_possible_edges_are_readings():
    zero = validate("site/CHI/room/CHI-A1/sensor/CHI-A1-P05", body(value=0, unit="count_m3"), SENSORS, NOW)
    full = validate("site/CHI/room/CHI-A1/sensor/CHI-A1-RH", body(value=100, unit="pct_rh"), SENSORS, NOW)
    assert isinstance(zero, Reading) and isinstance(full, Reading)
