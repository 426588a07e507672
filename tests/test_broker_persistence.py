"""Issue 27 point 6, what a broker fault costs: real Mosquitto processes started from the shipped
ingest/mosquitto/atmp-mosquitto.conf (only the port and the persistence directory replaced), stopped
gracefully (SIGTERM) or crashed (SIGKILL) and started again on the same port and directory, with the
bridge's persistent session (clean_start false, QoS 1) on the other side. docs/monitoring.md,
"Delivery guarantee per fault", quotes the figures these tests print.

"Acknowledged" means the publisher received the broker's PUBACK (the gateway's proof that the broker
took the reading over). Waits are on conditions with deadlines: the broker's save is seen as its
database file renamed into place with a later mtime (ConfiguredBroker.saved_after)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from live_support import (
    SHIPPED_BROKER_CONF,
    AckClock,
    bridge_settings,
    configured_mosquitto,
    publish_all,
    publisher,
    reading,
    seed_network,
    unique_prefix,
    utc_now,
    wait_for,
)
from sqlalchemy import text

from ingest.bridge import MqttBridge
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse

pytestmark = [pytest.mark.faults, pytest.mark.mqtt]
ROOT = Path(__file__).resolve().parent.parent
QUEUED = 2_000  # readings queued for the offline bridge (the figure)
SENSOR, UNIT = "CHI-B1-T", "degC"


def readings(prefix: str, tag: str, n: int) -> list[tuple[str, bytes]]:
    """n in-range readings of one sensor, msg_id `<tag>-<i>`, a few minutes old."""
    base = utc_now() - timedelta(minutes=5)
    return [(prefix + t, p) for t, p in (reading(SENSOR, base + timedelta(milliseconds=10 * i), 20.0 + i % 50 / 100,
                                                 UNIT, f"{tag}-{i}") for i in range(n))]


def msg_ids(messages) -> list[str]:
    return [p.split(b'"msg_id":"')[1].split(b'"')[0].decode() for _, p in messages]


def stored_ids(wh) -> set[str]:
    with wh.engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT msg_id FROM readings"))}


def stored_count(wh) -> int:
    with wh.engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM readings")).scalar()


def open_session(settings: Settings, wh) -> None:
    """The bridge connects once and leaves: the broker now keeps its subscription and queues for it."""
    bridge = MqttBridge(settings, wh).start()
    assert bridge.wait_connected(10)
    bridge.stop()


def drain(broker, wh, prefix: str, tag: str, timeout: float = 20) -> None:
    """Publish one more reading and wait until it is stored: the broker sends a session's queue in order
    and the bridge commits in arrival order, so everything the broker still held for the bridge has been
    delivered and committed by then."""
    pub = publisher(broker)
    publish_all(pub, readings(prefix, tag, 1))
    pub.disconnect()
    wait_for(lambda: f"{tag}-0" in stored_ids(wh), timeout, interval=0.1, message=f"{tag} stored")


def publish_paced(client, messages, per_second: float, stop: threading.Event | None = None) -> list[int]:
    """Publish at a steady rate (a network's stream, not a burst); the message ids, in order."""
    mids, start = [], time.monotonic()
    for i, (t, p) in enumerate(messages):
        if stop is not None and stop.is_set():
            break
        delay = start + i / per_second - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the stream, not waiting for a condition
        mids.append(client.publish(t, p, qos=1).mid)
    return mids


def without_autosave(template: str) -> str:
    """The shipped config minus its autosave lines: Mosquitto's default, a save every 1,800 s."""
    lines = [line for line in template.splitlines() if not line.startswith(("autosave_interval", "autosave_on_changes"))]
    assert len(lines) == len(template.splitlines()) - 2
    return "\n".join(lines) + "\n"


@pytest.mark.requirement("URS-ING-006")
def test_a_graceful_broker_restart_keeps_the_offline_bridges_queue(duckdb_warehouse, tmp_path):
    """SIGTERM: Mosquitto saves on the way down. The 2,000 readings queued for the offline bridge, and
    100 published after the restart but before the bridge is back, all arrive: 0 lost, 0 re-delivered."""
    wh = duckdb_warehouse
    seed_network(wh)
    with configured_mosquitto(tmp_path) as broker:
        prefix = unique_prefix("bp")
        settings = bridge_settings(broker, mqtt_topic_prefix=prefix)
        open_session(settings, wh)
        queued = readings(prefix, "queued", QUEUED)
        pub = publisher(broker)
        publish_all(pub, queued)
        pub.disconnect()

        started = time.monotonic()
        assert broker.terminate() == 0
        assert "Saving in-memory database" in broker.log().rsplit("--- start", 1)[1]
        assert broker.start(), broker.log()
        after_restart = readings(prefix, "after-restart", 100)  # the restored session queues these too
        pub = publisher(broker)
        publish_all(pub, after_restart)
        pub.disconnect()
        bridge = MqttBridge(settings, wh).start()
        assert bridge.wait_connected(10)
        wait_for(lambda: stored_count(wh) >= QUEUED + len(after_restart), 20, interval=0.1,
                 message="the queue stored after the restart")
        took = time.monotonic() - started
        drain(broker, wh, prefix, "drain")
        bridge.stop()
        assert "Error" not in broker.log(), broker.log()

    assert stored_ids(wh) == set(msg_ids(queued)) | set(msg_ids(after_restart)) | {"drain-0"}
    assert bridge.service.stats["duplicates"] == 0 and bridge.service.stats["quarantined"] == 0
    print(f"graceful broker restart: {QUEUED} queued + {len(after_restart)} after the restart, 0 lost, "
          f"0 re-delivered; stop -> all stored {took:.2f} s")


@pytest.mark.requirement("URS-ING-006")
def test_a_broker_crash_loses_only_what_was_acknowledged_after_its_last_save(duckdb_warehouse, tmp_path):
    """kill -9 with the shipped autosave (every ~2 s), the bridge offline. The 2,000 readings queued
    before a save all survive. Then a stream of 1,500 readings at 600/s, the broker killed right after
    the last PUBACK: every reading acknowledged before the last save survives, and every lost one was
    acknowledged after it; those acknowledged well after it (0.5 s) existed only in the broker's memory
    and are all lost (counted and printed)."""
    wh = duckdb_warehouse
    seed_network(wh)
    with configured_mosquitto(tmp_path) as broker:
        prefix = unique_prefix("bp")
        settings = bridge_settings(broker, mqtt_topic_prefix=prefix)
        open_session(settings, wh)
        pub = publisher(broker)
        clock = AckClock(pub)
        saved = readings(prefix, "saved", QUEUED)
        publish_all(pub, saved)
        acked_all_ns = time.time_ns()
        waited = time.monotonic()
        wait_for(lambda: broker.saved_after(acked_all_ns), 10, interval=0.02, message="the broker's next autosave")
        waited = time.monotonic() - waited

        window = readings(prefix, "window", 1_500)
        window_mids = publish_paced(pub, window, per_second=600)
        wait_for(lambda: all(mid in clock.acked_ns for mid in window_mids), 20, interval=0.01,
                 message="every reading of the stream acknowledged")
        broker.crash()
        killed_ns = time.time_ns()
        pub.loop_stop()
        last_save_ns = broker.last_save_ns()
        acked_ns = {msg_id: clock.acked_ns[mid] for msg_id, mid in zip(msg_ids(window), window_mids, strict=True)}

        assert broker.start(), broker.log()
        bridge = MqttBridge(settings, wh).start()
        assert bridge.wait_connected(10)
        drain(broker, wh, prefix, "drain")
        bridge.stop()
        log = broker.log()

    stored = stored_ids(wh)
    assert set(msg_ids(saved)) <= stored, f"{len(set(msg_ids(saved)) - stored)} saved readings lost"
    before_save = {m for m, t in acked_ns.items() if t < last_save_ns}
    after_save = set(acked_ns) - before_save
    lost = set(acked_ns) - stored
    assert before_save <= stored  # acknowledged before the last save: in the file, restored
    assert lost <= after_save
    # Nothing but the broker's memory held these (the bridge was offline): all gone.
    assert {m for m in after_save if acked_ns[m] > last_save_ns + 500_000_000} <= lost
    assert stored == set(msg_ids(saved)) | (set(acked_ns) - lost) | {"drain-0"}
    assert bridge.service.stats["duplicates"] == 0
    assert "Error saving" not in log
    newest_lost_s = (killed_ns - min((acked_ns[m] for m in lost), default=killed_ns)) / 1e9
    print(f"broker kill -9, shipped config, bridge offline: {QUEUED} queued and saved ({waited:.2f} s after the "
          f"last PUBACK), 0 lost; stream of {len(window)} at 600/s killed after its last PUBACK: last save "
          f"{(killed_ns - last_save_ns) / 1e9:.2f} s before the kill, {len(lost)} lost (acknowledged in the last "
          f"{newest_lost_s:.2f} s), {len(before_save)} acknowledged before the save all stored")


def test_a_broker_crash_with_the_default_autosave_loses_the_whole_queue_and_the_session(duckdb_warehouse, tmp_path):
    """The same crash with Mosquitto's default autosave_interval (1,800 s): nothing was saved, so the
    2,000 queued readings are lost, and so is the bridge's session: readings published after the
    restart, before the bridge is back, have no subscriber and are dropped too."""
    wh = duckdb_warehouse
    seed_network(wh)
    with configured_mosquitto(tmp_path, without_autosave(SHIPPED_BROKER_CONF.read_text())) as broker:
        prefix = unique_prefix("bp")
        settings = bridge_settings(broker, mqtt_topic_prefix=prefix)
        open_session(settings, wh)
        queued = readings(prefix, "queued", QUEUED)
        pub = publisher(broker)
        publish_all(pub, queued)
        pub.disconnect()
        broker.crash()
        assert broker.last_save_ns() is None  # no save yet: the first is due 1,800 s after the start

        assert broker.start(), broker.log()
        pub = publisher(broker)
        orphans = readings(prefix, "before-bridge", 10)
        publish_all(pub, orphans)  # acknowledged by the broker, and no session subscribes to them
        pub.disconnect()
        bridge = MqttBridge(settings, wh).start()
        assert bridge.wait_connected(10)
        drain(broker, wh, prefix, "drain")
        bridge.stop()

    assert stored_ids(wh) == {"drain-0"}
    print(f"broker kill -9, default autosave_interval: {QUEUED} of {QUEUED} queued readings lost, and "
          f"{len(orphans)} of {len(orphans)} published before the bridge reconnected")


@pytest.mark.requirement("URS-ING-006")
def test_a_broker_crash_mid_stream_with_the_bridge_online(duckdb_warehouse, tmp_path):
    """The usual case: the bridge keeps up, so the broker's queue is nearly empty when it dies. A stream
    at 1,000 readings/s, the broker killed after 3,000 acknowledgements and started again; the bridge
    reconnects by itself. Every reading acknowledged before the last save is stored; the lost ones (if
    any) were acknowledged after it and not yet sent to the bridge; re-deliveries are stored once."""
    wh = duckdb_warehouse
    seed_network(wh)
    with configured_mosquitto(tmp_path) as broker:
        prefix = unique_prefix("bp")
        settings = bridge_settings(broker, mqtt_topic_prefix=prefix)
        bridge = MqttBridge(settings, wh).start()
        assert bridge.wait_connected(10)
        pub = publisher(broker)
        clock = AckClock(pub)
        stream = readings(prefix, "stream", 6_000)
        stop = threading.Event()
        mids: list[int] = []
        producer = threading.Thread(target=lambda: mids.extend(publish_paced(pub, stream, 1_000, stop)))
        producer.start()
        wait_for(lambda: len(clock.acked_ns) >= 3_000, 20, interval=0.01, message="3,000 acknowledged")
        broker.crash()
        killed_ns = time.time_ns()
        stop.set()
        producer.join(10)
        pub.loop_stop()
        last_save_ns = broker.last_save_ns()
        sent = dict(zip(msg_ids(stream), mids, strict=False))
        acked_ns = {m: clock.acked_ns[mid] for m, mid in sent.items()
                    if mid in clock.acked_ns and clock.acked_ns[mid] < killed_ns}

        restarted = time.monotonic()
        assert broker.start(), broker.log()
        assert bridge.wait_connected(20), "the bridge did not reconnect"
        reconnected = time.monotonic() - restarted
        drain(broker, wh, prefix, "drain")
        bridge.stop()

    stored = stored_ids(wh)
    lost = set(acked_ns) - stored
    assert {m for m, t in acked_ns.items() if t < last_save_ns} <= stored
    assert all(acked_ns[m] > last_save_ns for m in lost)
    assert stored <= set(sent) | {"drain-0"}  # (some published but never acknowledged may be stored too)
    print(f"broker kill -9 mid-stream, shipped config, bridge online: {len(lost)} of {len(acked_ns)} acknowledged "
          f"lost; last save {(killed_ns - last_save_ns) / 1e9:.2f} s before the kill; "
          f"{len(stored - set(acked_ns) - {'drain-0'})} stored though never acknowledged; "
          f"{bridge.service.stats['duplicates']} re-delivered and not stored again; bridge back {reconnected:.2f} s "
          f"after the restart")


@pytest.mark.requirement("URS-ING-001", "URS-ING-002")
def test_a_bridge_killed_mid_stream_loses_nothing_and_stores_nothing_twice(tmp_path):
    """`atmp-hub bridge` as its own process on a DuckDB file, killed with SIGKILL once it has stored 3,000
    of 10,000 streaming readings (wherever it is: inside a batch, between a commit and its
    acknowledgements). A new bridge on the same file and session gets the rest, and the broker re-sends
    what was never acknowledged: every reading stored exactly once."""
    url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    seed_network(wh)
    with configured_mosquitto(tmp_path) as broker:
        prefix = unique_prefix("bp")
        settings = bridge_settings(broker, mqtt_topic_prefix=prefix)
        open_session(settings, wh)  # the broker queues for the session from now on
        wh.dispose()  # a DuckDB file admits one process: the bridge process's now
        env = {**os.environ, "ATMP_DATABASE_URL": url, "ATMP_MQTT_URL": broker.url, "PYTHONUNBUFFERED": "1",
               "ATMP_MQTT_CLIENT_ID": settings.mqtt_client_id, "ATMP_MQTT_TOPIC_PREFIX": prefix,
               "ATMP_ENVIRONMENT": "development", "ATMP_SECRET_KEY": "test"}
        proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "bridge", "--report-every", "0.1"], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()

        def inserted() -> int:
            found = re.findall(r"'inserted': (\d+)", "".join(lines[-3:]))
            return int(found[-1]) if found else 0

        stream = readings(prefix, "stream", 10_000)
        pub = publisher(broker)
        producer = threading.Thread(target=lambda: [publish_all(pub, stream[i:i + 1000])
                                                    for i in range(0, len(stream), 1000)])
        producer.start()
        try:
            wait_for(lambda: inserted() >= 3_000 or proc.poll() is not None, 30, interval=0.01,
                     message="the bridge process to store 3,000")
            assert proc.poll() is None, "".join(lines)
            proc.kill()
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        reported = inserted()
        producer.join(60)
        pub.disconnect()

        wh = Warehouse(url)  # DuckDB replays the killed process's log: committed batches only
        stored_at_kill = stored_count(wh)
        bridge = MqttBridge(settings, wh).start()
        assert bridge.wait_connected(10)
        wait_for(lambda: stored_count(wh) >= len(stream), 30, interval=0.1, message="every reading stored")
        drain(broker, wh, prefix, "drain")
        bridge.stop()
        stored = stored_ids(wh)
        wh.dispose()

    assert proc.returncode == -9
    assert stored == set(msg_ids(stream)) | {"drain-0"}
    assert bridge.service.stats["quarantined"] == 0
    print(f"bridge process kill -9 after {reported:,} reported stored ({stored_at_kill:,} committed): "
          f"{len(stream):,} of {len(stream):,} stored once, {bridge.service.stats['duplicates']} re-delivered and "
          f"not stored again")


def test_a_listener_added_to_the_shipped_config_refuses_anonymous_clients(tmp_path):
    """per_listener_settings: `allow_anonymous true` is the loopback listener's alone."""
    import paho.mqtt.client as mqtt
    from live_support import free_port
    from paho.mqtt.enums import CallbackAPIVersion

    extra = free_port()
    with configured_mosquitto(tmp_path, append=f"listener {extra} 127.0.0.1\n") as broker:
        results = {}
        for port in (broker.port, extra):
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"anon-{port}", protocol=mqtt.MQTTv5)
            done = threading.Event()
            client.on_connect = lambda c, u, f, rc, p, port=port, done=done: (results.__setitem__(port, rc), done.set())
            client.connect("127.0.0.1", port)
            client.loop_start()
            assert done.wait(10)
            client.disconnect()
            client.loop_stop()
    assert not results[broker.port].is_failure
    assert results[extra].is_failure and "authori" in str(results[extra]).lower()
