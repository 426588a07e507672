"""Notification latency: a sensor message published -> the e-mail accepted by an SMTP server.

    .venv/bin/python bench/notify_bench.py                    # 100 sensors, 40 excursions, DuckDB file
    .venv/bin/python bench/notify_bench.py --events 5 --json out.json

What runs is what the app runs: the MQTT bridge (private Mosquitto) and the notification dispatcher in one
process over a DuckDB warehouse of the small sample network's sites, rooms, sensors and limits, with one
rule (every action-level excursion, no delay) and the default settings (ATMP_NOTIFY_POLL_S 1 s). The
first 100 sensors report once a second with calm values; every `--every` seconds one grade A particle
sensor reads above its action limit (at a random phase against the dispatcher's polling) (no delay in Annex 1's particle limits, so the excursion opens at
that reading) with a value of its own, and the SMTP server (aiosmtpd on loopback) notes when it accepted
the message naming that value. Latency = acceptance time - publish time of that reading.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from bench.ingest_bench import make_publisher, seed, start_broker  # noqa: E402
from ingest.bridge import MqttBridge  # noqa: E402
from ingest.validation import payload_for  # noqa: E402
from notify.dispatcher import Dispatcher  # noqa: E402
from queries.engine.settings import Settings  # noqa: E402
from queries.engine.warehouse import Warehouse  # noqa: E402
from queries.notifications import rules  # noqa: E402

SENSORS = 100
BURST_BASE = 5000.0  # count/m3, above every grade A action limit for particles >= 0.5 um (3,520)
VALUE = re.compile(r"^Value:\s+([0-9.]+)", re.M)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Accepted:
    """aiosmtpd handler: the time each message naming a burst value was accepted."""

    def __init__(self):
        self.at: dict[float, float] = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        found = VALUE.search(envelope.content.decode(errors="replace"))
        if found:
            self.at.setdefault(float(found.group(1)), time.perf_counter())
        await asyncio.sleep(0)
        return "250 2.0.0 Ok: queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(events: int, every_s: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_broker(Path(tmp))
        handler = Accepted()
        smtp_port = free_port()
        smtp = Controller(handler, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        wh = Warehouse(f"duckdb:///{tmp}/notify-bench.duckdb")
        try:
            wh.create_schema()
            sensors = seed(wh)
            chosen = sensors[:SENSORS]
            particles = [s for s in sensors if s[1].endswith("-P05") and "-A" in s[1]]
            rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org"), by="bench",
                      reason="notification latency benchmark")
            settings = Settings.from_env({}, database_url=wh.url, secret_key="bench",
                                         mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id="bench-notify",
                                         smtp_url=f"smtp://127.0.0.1:{smtp_port}")
            bridge = MqttBridge(settings, wh).start()
            bridge.wait_connected()
            stop_dispatch = Dispatcher(wh, settings).start()
            pub = make_publisher(port)
            stop_calm = threading.Event()

            def calm() -> None:  # 100 sensors, one reading a second each
                i = 0
                while not stop_calm.is_set():
                    ts = now_utc()
                    for topic, sensor_id, unit in chosen:
                        value = 100.0 if sensor_id.endswith(("-P05", "-P50")) else 20.0 + (i % 5) * 0.01
                        pub.publish(topic, payload_for(f"calm-{sensor_id}-{i}", ts, value, unit), qos=1)
                    i += 1
                    stop_calm.wait(1.0)
            threading.Thread(target=calm, daemon=True).start()
            published: dict[float, float] = {}
            jitter = random.Random(20261207)
            time.sleep(2.0)
            for k in range(events):
                topic, sensor_id, unit = particles[k % len(particles)]
                value = BURST_BASE + k
                published[value] = time.perf_counter()
                pub.publish(topic, payload_for(f"burst-{k}", now_utc(), value, unit), qos=1).wait_for_publish(10)
                time.sleep(0.3)  # back inside the limit: the excursion ends, the next burst opens a new one
                pub.publish(topic, payload_for(f"after-{k}", now_utc(), 100.0, unit), qos=1)
                # A random phase against the dispatcher's polling, so the figures cover its whole cycle.
                time.sleep(max(0.0, every_s - 0.3) + jitter.uniform(0.0, settings.notify_poll_s))
            deadline = time.monotonic() + 30
            while len(handler.at) < events and time.monotonic() < deadline:
                time.sleep(0.05)
            stop_calm.set()
            stop_dispatch.set()
            bridge.stop()
            pub.disconnect()
        finally:
            wh.dispose()
            smtp.stop()
            broker.terminate()
    seconds = [handler.at[v] - published[v] for v in published if v in handler.at]
    return {"sensors": SENSORS, "events": events, "delivered": len(seconds),
            "poll_s": settings.notify_poll_s,
            "p50_s": round(statistics.median(seconds), 3) if seconds else None,
            "p95_s": round(quantile(seconds, 0.95), 3) if seconds else None,
            "max_s": round(max(seconds), 3) if seconds else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between two excursions")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = run(args.events, args.every)
    print(f"{figures['sensors']} sensors reporting every second, {figures['events']} action excursions: "
          f"{figures['delivered']} e-mails accepted; published -> accepted p50 {figures['p50_s']} s, "
          f"p95 {figures['p95_s']} s, max {figures['max_s']} s (dispatcher polls every {figures['poll_s']:g} s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if figures["delivered"] == figures["events"] else 1


if __name__ == "__main__":
    sys.exit(main())
