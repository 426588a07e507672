"""The MQTT bridge against a real, private Mosquitto: no loss across a bridge restart (50,000 QoS-1
readings), re-deliveries stored once, bad input quarantined, reconnection after a broker restart."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from datetime import timedelta

import pandas as pd
import pytest
from live_support import (
    bridge_settings,
    mosquitto,
    publish_all,
    publisher,
    reading,
    seed_network,
    utc_now,
    wait_for,
)
from sqlalchemy import text

from ingest.bridge import MqttBridge

pytestmark = pytest.mark.mqtt
N_READINGS = 50_000


def scalar(wh, sql: str):
    with wh.engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


@pytest.fixture
def broker(tmp_path):
    with mosquitto(tmp_path) as b:
        yield b


@pytest.mark.requirement("URS-ING-001", "URS-ING-002")
@pytest.mark.faults  # the bridge is stopped mid-stream and restarted
def test_no_reading_is_lost_or_doubled_across_a_bridge_restart(warehouse, broker):
    """50,000 readings; the bridge stops mid-stream (unwritten messages unacknowledged) and a new
    bridge process takes over the persistent session. Some batches were committed but their acks
    lost (a crash between commit and ack): the broker re-sends them and they are stored once."""
    seed_network(warehouse)
    sensors = pd.read_sql(text("SELECT sensor_id, unit FROM sensors WHERE parameter = 'humidity' ORDER BY 1"),
                          warehouse.engine.connect())
    client_id = f"bridge-{uuid.uuid4().hex[:8]}"
    settings = bridge_settings(broker, client_id)
    base = utc_now() - timedelta(hours=2)
    per_sensor = -(-N_READINGS // len(sensors))
    messages = [reading(s.sensor_id, base + timedelta(seconds=i // len(sensors) * 7200 / per_sensor), 45.0 + i % 7,
                        s.unit, f"m-{i:05d}")
                for i, s in ((i, sensors.iloc[i % len(sensors)]) for i in range(N_READINGS))]

    first = MqttBridge(settings, warehouse).start()
    assert first.wait_connected(10)
    lost_acks = []
    real_ack = first.client.ack

    def lossy_ack(mid, qos):  # the first 50 acks after a commit never reach the broker
        if len(lost_acks) < 50 and mid % 7 == 0:
            lost_acks.append(mid)
            return None
        return real_ack(mid, qos)
    first.client.ack = lossy_ack

    pub = publisher(broker)
    sent = {"n": 0}

    def produce():
        for start in range(0, N_READINGS, 1000):
            sent["n"] += publish_all(pub, messages[start:start + 1000])
    producer = threading.Thread(target=produce)
    started = time.monotonic()
    producer.start()
    wait_for(lambda: first.service.stats["inserted"] >= 12_000, 30, message="first bridge to store 12,000")
    left = first.stop()
    stored_by_first = scalar(warehouse, "SELECT COUNT(*) FROM readings")
    wait_for(lambda: sent["n"] >= 30_000, 30, message="30,000 published while the bridge is down")
    second = MqttBridge(settings, warehouse).start()  # same client id: the broker's queue is ours
    producer.join(60)
    wait_for(lambda: scalar(warehouse, "SELECT COUNT(*) FROM readings") >= N_READINGS, 45, interval=0.2,
             message="all readings stored")
    # A last reading published after them all: the broker re-sends a resumed session's unacknowledged
    # messages before newer ones, so once it is stored no straggling re-delivery is still on its way.
    publish_all(pub, [reading(sensors.sensor_id[0], base + timedelta(hours=2), 45.0, sensors.unit[0], "z-last")])
    wait_for(lambda: scalar(warehouse, "SELECT COUNT(*) FROM readings WHERE msg_id = 'z-last'") == 1, 30,
             message="the last reading stored")
    second.stop()
    pub.disconnect()
    elapsed = time.monotonic() - started

    assert len(lost_acks) == 50 and stored_by_first < N_READINGS
    stream = "FROM readings WHERE msg_id LIKE 'm-%'"  # without the last reading
    assert scalar(warehouse, "SELECT COUNT(*) FROM readings") == N_READINGS + 1
    assert scalar(warehouse, f"SELECT COUNT(*) {stream}") == N_READINGS  # noqa: S608
    assert scalar(warehouse, f"SELECT COUNT(DISTINCT msg_id) {stream}") == N_READINGS  # noqa: S608
    assert scalar(warehouse, f"SELECT MIN(msg_id) {stream}") == "m-00000"  # noqa: S608
    assert scalar(warehouse, f"SELECT MAX(msg_id) {stream}") == f"m-{N_READINGS - 1:05d}"  # noqa: S608
    # Rollups count every reading exactly once too (re-deliveries never add to them).
    for grain in ("minute", "hour", "day"):
        assert scalar(warehouse, f"SELECT SUM(n) FROM reading_rollups WHERE grain = '{grain}'") == N_READINGS + 1  # noqa: S608
    assert second.service.stats["duplicates"] >= len(lost_acks)  # the re-sent, already-committed ones
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine") == 0
    print(f"50k with restart: {elapsed:.1f} s; left unacked at stop: {left}; re-delivered duplicates: "
          f"{second.service.stats['duplicates']}")


@pytest.mark.requirement("URS-ING-003")
def test_bad_messages_over_mqtt_land_in_quarantine_beside_stored_neighbours(duckdb_warehouse, broker):
    wh = duckdb_warehouse
    seed_network(wh)
    bridge = MqttBridge(bridge_settings(broker), wh).start()
    assert bridge.wait_connected(10)
    now = utc_now()
    topic = "site/CHI/room/CHI-B1/sensor/CHI-B1-T"
    bad = [
        (topic, b"{malformed", "malformed_json"),
        ("site/CHI/room/CHI-B1/sensor/CHI-B1-ZZ", reading("CHI-B1-T", now, 20.0, "degC")[1], "unknown_sensor"),
        (topic, b'{"msg_id":"n1","ts":"%s","value":NaN,"unit":"degC"}' % (now.isoformat() + "Z").encode(),
         "not_finite"),
        (topic, b'{"msg_id":"n2","ts":"%s","value":Infinity,"unit":"degC"}' % (now.isoformat() + "Z").encode(),
         "not_finite"),
        (topic, reading("CHI-B1-T", now, 68.0, "degF")[1], "unit_mismatch"),
        (topic, reading("CHI-B1-T", now + timedelta(days=400), 20.0, "degC")[1], "future_timestamp"),
        (topic, b'{"msg_id":"big","pad":"' + b"x" * 20_000 + b'"}', "oversized_payload"),
    ]
    stream, good_ids = [], []
    for i, (t, p, _) in enumerate(bad):
        for j in (0, 1):
            msg_id = f"good-{i}-{j}"
            good_ids.append(msg_id)
            stream.append(reading("CHI-B1-T", now - timedelta(seconds=60 - 2 * len(good_ids)), 20.1, "degC", msg_id))
            if j == 0:
                stream.append((t, p))
    pub = publisher(broker)
    publish_all(pub, stream)
    wait_for(lambda: scalar(wh, "SELECT COUNT(*) FROM quarantine") >= len(bad)
             and scalar(wh, "SELECT COUNT(*) FROM readings") >= len(good_ids), 15, message="all messages written")
    bridge.stop()
    pub.disconnect()
    stored = set(pd.read_sql(text("SELECT msg_id FROM readings"), wh.engine.connect()).msg_id)
    assert stored == set(good_ids)
    rows = pd.read_sql(text("SELECT topic, payload, reason FROM quarantine ORDER BY quarantine_id"),
                       wh.engine.connect())
    assert [r.split(":")[0] for r in rows.reason] == [code for _, _, code in bad]
    assert bytes(rows.payload.iloc[0]) == b"{malformed"  # the raw bytes
    assert rows.topic.iloc[1].endswith("CHI-B1-ZZ")


@pytest.mark.requirement("URS-ING-006")
def test_bridge_reconnects_and_resubscribes_after_a_broker_restart(duckdb_warehouse, broker, tmp_path):
    wh = duckdb_warehouse
    seed_network(wh)
    bridge = MqttBridge(bridge_settings(broker), wh).start()
    assert bridge.wait_connected(10)
    pub = publisher(broker)
    publish_all(pub, [reading("CHI-B1-RH", utc_now(), 44.0, "pct_rh", "before")])
    wait_for(lambda: scalar(wh, "SELECT COUNT(*) FROM readings") == 1, 10, message="first reading")
    pub.disconnect()
    # Restart the broker on the same port (persistence off: it forgets the session entirely).
    conf = next(tmp_path.glob("mosquitto-*.conf"))
    broker.process.terminate()
    broker.process.wait(5)
    wait_for(lambda: not bridge.connected.is_set(), 10, message="bridge to notice")
    restarted = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    try:
        assert bridge.wait_connected(20), "bridge did not reconnect"  # re-subscribed: its SUBACK arrived
        pub = publisher(broker)
        publish_all(pub, [reading("CHI-B1-RH", utc_now(), 44.5, "pct_rh", "after")])
        wait_for(lambda: scalar(wh, "SELECT COUNT(*) FROM readings") == 2, 10, message="reading after restart")
        pub.disconnect()
    finally:
        bridge.stop()
        restarted.terminate()
        restarted.wait(5)
