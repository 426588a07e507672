"""What the shipped broker config's persistence costs: Mosquitto from ingest/mosquitto/atmp-mosquitto.conf
(port and persistence directory replaced), a bridge-like session offline, N readings queued for it.

    .venv/bin/python bench/broker_persistence.py                    # 2,000 and 100,000 queued
    .venv/bin/python bench/broker_persistence.py --queued 250000   # the config's max_queued_messages

For each queue size: the persistence file's size (bytes per queued reading), the time between two
saves (autosave_interval 1), and how long the broker stops answering while it saves: the longest
publish -> PUBACK round trip of one probe every 10 ms for 5 s (Mosquitto saves in its only thread).
What a crash loses is measured by tests/test_broker_persistence.py.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from ingest.validation import payload_for  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
SHIPPED = ROOT / "ingest" / "mosquitto" / "atmp-mosquitto.conf"
TOPIC = "bench/site/CHI/room/CHI-B1/sensor/CHI-B1-T"


def config(port: int, directory: Path) -> str:
    lines = []
    for line in SHIPPED.read_text().splitlines():
        key = line.split()[0] if line.strip() else ""
        lines.append({"listener": f"listener {port} 127.0.0.1",
                      "persistence_location": f"persistence_location {directory}/"}.get(key, line))
    return "\n".join(lines) + "\n"


def client(port: int, client_id: str, **connect) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port, **connect)
    c.loop_start()
    return c


def measure(queued: int) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="atmp-mosquitto-bench-"))
    if os.geteuid() == 0:  # Mosquitto started as root writes as the user `mosquitto`
        entry = pwd.getpwnam("mosquitto")
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = directory.with_suffix(".conf")
    conf.write_text(config(port, directory))
    broker = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        bridge = client(port, "bench-bridge", clean_start=False, properties=props)
        subscribed = threading.Event()
        bridge.on_subscribe = lambda *_: subscribed.set()
        bridge.subscribe("bench/#", qos=1)
        if not subscribed.wait(10):
            raise RuntimeError("no SUBACK from the broker")
        bridge.disconnect()
        bridge.loop_stop()

        pub = client(port, f"bench-pub-{uuid.uuid4().hex[:6]}")
        now = datetime.now(UTC).replace(tzinfo=None)
        started = time.monotonic()
        for start in range(0, queued, 1000):
            infos = [pub.publish(TOPIC, payload_for(f"b-{i}", now, 20.0, "degC"), qos=1)
                     for i in range(start, min(start + 1000, queued))]
            for info in infos:
                info.wait_for_publish(120)
        publish_s = time.monotonic() - started
        acked_ns = time.time_ns()
        db = directory / "mosquitto.db"
        deadline = time.monotonic() + 30
        while not (db.exists() and db.stat().st_mtime_ns > acked_ns):  # the first save holding them all
            if time.monotonic() > deadline:
                raise RuntimeError(f"no save within 30 s: is {directory} writable by the broker's user?")
            time.sleep(0.02)

        saves, rtts, last = [], [], db.stat().st_mtime_ns
        end = time.monotonic() + 5
        while time.monotonic() < end:
            t = time.perf_counter()
            pub.publish("bench-probe", b"x", qos=1).wait_for_publish(30)
            rtts.append(time.perf_counter() - t)
            mtime = db.stat().st_mtime_ns
            if mtime != last:
                saves.append((mtime - last) / 1e9)
                last = mtime
            time.sleep(0.01)
        pub.disconnect()
        pub.loop_stop()
        size = db.stat().st_size
        return {"queued": queued, "publish_s": publish_s, "file_bytes": size, "bytes_per_reading": size / queued,
                "save_periods_s": saves, "rtt_p50_ms": statistics.median(rtts) * 1000,
                "rtt_max_ms": max(rtts) * 1000}
    finally:
        broker.kill()
        broker.wait(10)
        shutil.rmtree(directory, ignore_errors=True)
        conf.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, nargs="+", default=[2_000, 100_000])
    args = parser.parse_args()
    for n in args.queued:
        r = measure(n)
        print(f"{r['queued']:>9,} queued ({r['publish_s']:.1f} s to publish): file {r['file_bytes'] / 1e6:.1f} MB "
              f"({r['bytes_per_reading']:.0f} B/reading), saves every "
              f"{', '.join(f'{p:.2f}' for p in r['save_periods_s'])} s, publish->PUBACK p50 {r['rtt_p50_ms']:.1f} ms, "
              f"max {r['rtt_max_ms']:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
