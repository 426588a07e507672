"""Live-ingest benchmark: MQTT -> stored throughput, publish-to-visible latency, monitoring callbacks.

    .venv/bin/python bench/ingest_bench.py                      # DuckDB file, private Mosquitto
    .venv/bin/python bench/ingest_bench.py --database-url postgresql+psycopg://...  # empty database
    .venv/bin/python bench/ingest_bench.py --pages hub-medium.duckdb   # + monitoring callback times

Throughput: N readings published with QoS 1 as fast as one paho publisher can, the bridge running;
the clock runs from the first publish until the last reading is committed. Backlog: the same with
the bridge started only after everything was queued by the broker (pure drain rate).
Latency: readings published at a steady rate; for each, commit time minus publish time (a committed
reading is visible to every query). Pages: the monitoring callbacks, timed through Flask's test
client against a generated sample warehouse (`atmp-hub generate --scale medium|large`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from ingest.bridge import MqttBridge  # noqa: E402
from ingest.validation import payload_for  # noqa: E402
from queries.analyses.limits import default_limits  # noqa: E402
from queries.engine.settings import Settings  # noqa: E402
from queries.engine.warehouse import Warehouse  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start_broker(tmp: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 1000000\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def seed(wh: Warehouse) -> list[tuple[str, str, str]]:
    from sample_data.network import SCALES, build_network, sensor_table, site_table

    network = build_network(SCALES["small"], datetime(2026, 1, 1))
    with wh.transaction() as conn:
        wh.bulk_insert(conn, "sites", site_table(network))
        wh.bulk_insert(conn, "rooms", network.rooms)
        wh.bulk_insert(conn, "sensors", sensor_table(network))
        wh.bulk_insert(conn, "limits", default_limits())
    return [(f"site/{r.site_id}/room/{r.room_id}/sensor/{r.sensor_id}", r.sensor_id, r.unit)
            for r in network.sensors.itertuples()]


def calm_value(sensor_id: str, i: int) -> float:
    kind = sensor_id.rsplit("-", 1)[1]
    return {"T": 20.0, "RH": 45.0, "DP": 20.0, "P05": 100.0, "P50": 1.0}[kind] + (i % 5) * 0.01


def make_publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def count(wh: Warehouse) -> int:
    return int(wh.scalar("bench/readings_count"))


def throughput(wh, port, sensors, n: int, *, backlog: bool, tag: str) -> float:
    settings = Settings.from_env({}, mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id=f"bench-{tag}",
                                 secret_key="bench")
    base, before = now_utc() - timedelta(hours=1), count(wh)
    msgs = [(sensors[i % len(sensors)][0],
             payload_for(f"{tag}-{i}", base + timedelta(seconds=i / len(sensors)),
                         calm_value(sensors[i % len(sensors)][1], i), sensors[i % len(sensors)][2]))
            for i in range(n)]
    bridge = MqttBridge(settings, wh).start()
    bridge.wait_connected()
    if backlog:  # register the session, go offline, let the broker queue everything
        bridge.stop()
    pub = make_publisher(port)
    started = time.perf_counter()
    infos = [pub.publish(t, p, qos=1) for t, p in msgs]
    for info in infos:
        info.wait_for_publish(120)
    if backlog:
        started = time.perf_counter()  # drain rate only
        bridge = MqttBridge(settings, wh).start()
    while count(wh) < before + n:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    bridge.stop()
    pub.disconnect()
    return n / elapsed


def latency(wh, port, sensors, rate: float, seconds: float) -> tuple[float, float, float, int]:
    settings = Settings.from_env({}, mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id="bench-latency",
                                 secret_key="bench")
    published: dict[str, float] = {}
    visible: dict[str, float] = {}

    def committed(batch, _result):
        t = time.perf_counter()
        for m in batch:
            visible[json.loads(m.payload)["msg_id"]] = t
    bridge = MqttBridge(settings, wh, on_commit=committed).start()
    bridge.wait_connected()
    pub = make_publisher(port)
    n = int(rate * seconds)
    t0 = time.perf_counter()
    for i in range(n):
        topic, sensor_id, unit = sensors[i % len(sensors)]
        msg_id = f"lat-{i}"
        target = t0 + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        published[msg_id] = time.perf_counter()
        pub.publish(topic, payload_for(msg_id, now_utc(), calm_value(sensor_id, i), unit), qos=1)
    deadline = time.perf_counter() + 30
    while len(visible) < n and time.perf_counter() < deadline:
        time.sleep(0.01)
    bridge.stop()
    pub.disconnect()
    lat = sorted((visible[k] - published[k]) * 1000 for k in published if k in visible)
    return statistics.median(lat), lat[int(0.95 * (len(lat) - 1))], lat[-1], len(lat)


def page_timings(url: str, repeats: int) -> list[tuple[str, float, float]]:
    """First (cold) and median of the repeats (warm: may be answered by the app's result cache), in ms,
    of each monitoring callback through Flask's test client (the real request path)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import dash_call, ready

    from dashboard import ids
    from dashboard.app import create_app
    from queries.records import users

    wh = Warehouse(url)
    wh.create_schema()  # adds sensor_latest to warehouses generated before it existed
    user = f"bench-{uuid.uuid4().hex[:6]}"
    users.add_user(wh, user_id=user, display_name="bench", role="leadership", site_id=None, password="bench-password-1")
    end = wh.scalar("bench/generator_end")
    settings = Settings.from_env({}, database_url=url, secret_key="bench", now=str(end), simulator=False, prewarm=False)
    app = ready(create_app(settings, wh))
    client = app.server.test_client()
    client.post("/login", data={"username": user, "password": "bench-password-1"},
                headers={"Origin": "http://localhost"})
    site = "CHI"
    calls = {
        "overview excursion tiles": ([ids.OV_EXC_TILES, ids.OV_EXC_AS_OF], {f"{ids.OV_EXC_TICK}.n_intervals": 1}, {}),
        "monitoring: sites": ([ids.MON_SITES, ids.MON_NET_AS_OF], {f"{ids.MON_NET_TICK}.n_intervals": 1}, {}),
        "site: live + excursions": ([ids.MON_LIVE, ids.MON_EXCURSIONS, ids.MON_AS_OF, ids.MON_ACK_EXCURSION],
                                    {f"{ids.MON_TICK}.n_intervals": 1}, {f"{ids.MON_SITE_ID}.data": site}),
    }
    for window in ("24h", "30d", "365d"):
        calls[f"site: trend {window}"] = ([ids.MON_TREND], {
            f"{ids.MON_TREND_SENSOR}.value": f"{site}-B1-T", f"{ids.MON_TREND_WINDOW}.value": window,
            f"{ids.MON_TICK}.n_intervals": 0}, {f"{ids.MON_SITE_ID}.data": site})
    out = []
    for name, (outputs, inputs, state) in calls.items():
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            response = dash_call(client, app, outputs, inputs, state)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (name, response.status_code, response.data[:300])
        out.append((name, times[0], statistics.median(times[1:] or times)))
    wh.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty warehouse (default: a temporary DuckDB file)")
    parser.add_argument("--readings", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=500.0, help="readings/s for the latency run")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pages", nargs="*", default=[], metavar="WAREHOUSE_URL_OR_DUCKDB_FILE",
                        help="generated sample warehouses to time the monitoring callbacks on")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="atmp-bench-"))
    url = args.database_url or f"duckdb:///{tmp / 'bench.duckdb'}"
    wh = Warehouse(url)
    wh.create_schema()
    sensors = seed(wh)
    broker, port = start_broker(tmp)
    try:
        print(f"warehouse {wh.dialect}, {len(sensors)} sensors, mosquitto on port {port}, "
              f"batch max {Settings().ingest_batch_max}, wait {Settings().ingest_batch_wait_ms} ms")
        live = throughput(wh, port, sensors, args.readings, backlog=False, tag="live")
        print(f"throughput, bridge running : {live:,.0f} readings/s MQTT -> stored ({args.readings:,} QoS-1)")
        drain = throughput(wh, port, sensors, args.readings, backlog=True, tag="backlog")
        print(f"throughput, queued backlog : {drain:,.0f} readings/s MQTT -> stored ({args.readings:,} QoS-1)")
        p50, p95, worst, n = latency(wh, port, sensors, args.rate, args.seconds)
        print(f"publish -> visible at {args.rate:.0f}/s: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms "
              f"({n} readings)")
    finally:
        broker.terminate()
        wh.dispose()
    for target in args.pages:
        target_url = target if "://" in target else f"duckdb:///{os.path.abspath(target)}"
        print(f"monitoring callbacks on {target} (ms: first call, then median of {args.repeats - 1} more):")
        for name, first, median in page_timings(target_url, args.repeats):
            print(f"  {name:28} {first:8.1f} {median:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
