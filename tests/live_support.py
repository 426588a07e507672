"""Helpers for the live-monitoring tests: a private Mosquitto, a small network, publishing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ingest.validation import payload_for
from queries.analyses.limits import default_limits
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse
from queries.records import users
from sample_data.network import SCALES, build_network, sensor_table, site_table

MOSQUITTO = os.environ.get("ATMP_TEST_MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PASSWORD = "correct-horse-battery"
USERS = {  # user -> (role, site)
    "lead": ("leadership", None),
    "mgr.chi": ("site_manager", "CHI"),
    "mgr.atl": ("site_manager", "ATL"),
    "audit": ("auditor", None),
    "wall": ("display", None),
}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(process: subprocess.Popen, port: int, timeout_s: float = 5.0) -> bool:
    """True once the broker accepts connections on the port; False if it exited or never did."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


@contextmanager
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A private broker on a free loopback port. Missing binary: skip locally, fail in CI."""
    if not (Path(MOSQUITTO).is_file() and os.access(MOSQUITTO, os.X_OK)):
        message = f"mosquitto not found at {MOSQUITTO} (apt-get install mosquitto; `make test` installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    for attempt in range(3):  # another process (an xdist worker) may take the free port first
        port = free_port()
        conf = tmp_path / f"mosquitto-{port}.conf"
        # max_queued_messages: the default 1000 per offline client silently drops the rest.
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        "max_queued_messages 100000\n")
        log = open(tmp_path / f"mosquitto-{port}.log", "w")  # closed in finally
        process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        if _listening(process, port):
            break
        log.close()
        log_text = (tmp_path / f"mosquitto-{port}.log").read_text()
        if attempt == 2 or "in use" not in log_text:
            process.kill()
            raise RuntimeError(f"mosquitto did not start: {log_text}")
    try:
        yield Broker("127.0.0.1", port, process)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def unique_prefix(tag: str) -> str:
    """A topic prefix no other test uses on the shared broker."""
    return f"{tag}-{uuid.uuid4().hex[:8]}/"


def bridge_settings(broker: Broker, client_id: str | None = None, **overrides) -> Settings:
    """A bridge's settings on the test broker, under a client id of its own unless one is given."""
    return Settings.from_env({}, mqtt_url=broker.url, mqtt_client_id=client_id or f"bridge-{uuid.uuid4().hex[:8]}",
                             secret_key="test", **overrides)


def seed_network(wh: Warehouse, *, batches: pd.DataFrame | None = None, with_users: bool = False) -> None:
    """The sample network's sites, rooms, sensors and default limits (no history), plus batches."""
    network = build_network(SCALES["small"], datetime(2026, 1, 1))
    with wh.transaction() as conn:
        wh.bulk_insert(conn, "sites", site_table(network))
        wh.bulk_insert(conn, "rooms", network.rooms)
        wh.bulk_insert(conn, "sensors", sensor_table(network))
        wh.bulk_insert(conn, "limits", default_limits())
        if batches is not None:
            wh.bulk_insert(conn, "batches", batches)
    if with_users:
        for user_id, (role, site) in USERS.items():
            users.add_user(wh, user_id=user_id, display_name=user_id, role=role, site_id=site, password=PASSWORD)


def batch_rows(rows: Iterable[tuple[str, str, str, datetime, datetime | None]]) -> pd.DataFrame:
    """(batch_id, site_id, room_id, started_at, completed_at) -> insert-ready batches."""
    frame = pd.DataFrame(list(rows), columns=["batch_id", "site_id", "room_id", "started_at", "completed_at"])
    frame["product"] = "CD19 CAR-T"
    frame["process_version"] = "CD19-PV2.2"
    frame["status"] = "in_process"
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame["completed_at"] = pd.to_datetime(frame["completed_at"])
    return frame


def topic(sensor_id: str, prefix: str = "") -> str:
    site, room = sensor_id.split("-")[0], "-".join(sensor_id.split("-")[:2])
    return f"{prefix}site/{site}/room/{room}/sensor/{sensor_id}"


def reading(sensor_id: str, ts: datetime, value: float, unit: str, msg_id: str | None = None) -> tuple[str, bytes]:
    return topic(sensor_id), payload_for(msg_id or uuid.uuid4().hex, ts, value, unit)


def ramp(sensor_id: str, unit: str, values: list[float], *, start: datetime, step_s: float, tag: str
         ) -> list[tuple[str, bytes]]:
    return [reading(sensor_id, start + timedelta(seconds=i * step_s), v, unit, f"{tag}-{i}")
            for i, v in enumerate(values)]


def publisher(broker: Broker, client_id: str | None = None):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{uuid.uuid4().hex[:6]}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def publish_all(client, messages: Iterable[tuple[str, bytes]], timeout: float = 60) -> int:
    infos = [client.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(timeout)
    return len(infos)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


# --- a broker from a config file, with persistence, stopped, crashed and started again ------------
ROOT = Path(__file__).resolve().parent.parent
SHIPPED_BROKER_CONF = ROOT / "ingest" / "mosquitto" / "atmp-mosquitto.conf"


def broker_config(template: str, port: int, persistence_dir: Path) -> str:
    """`template` (a Mosquitto config such as the shipped one) with its one `listener` on `port` (loopback)
    and its one `persistence_location` replaced by `persistence_dir`; every other line as it is."""
    out, replaced = [], {"listener": 0, "persistence_location": 0}
    for line in template.splitlines():
        key = line.split()[0] if line.strip() else ""
        if key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key == "persistence_location":
            line = f"persistence_location {persistence_dir}/"
        if key in replaced:
            replaced[key] += 1
        out.append(line)
    if replaced != {"listener": 1, "persistence_location": 1}:
        raise ValueError(f"expected one listener and one persistence_location line, found {replaced}")
    return "\n".join(out) + "\n"


class ConfiguredBroker:
    """A private Mosquitto started from a config file, on a fixed port and persistence directory, that a
    test can stop gracefully (SIGTERM), crash (SIGKILL) and start again on both (the same broker)."""

    host = "127.0.0.1"

    def __init__(self, conf: Path, port: int, persistence_dir: Path, log_path: Path):
        self.conf, self.port, self.persistence_dir, self.log_path = conf, port, persistence_dir, log_path
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.persistence_dir / "mosquitto.db"

    def start(self, timeout_s: float = 10.0) -> bool:
        """Start (again); False if it did not listen within the timeout (the log says why)."""
        self.starts += 1
        with open(self.log_path, "a") as log:  # the child keeps its own descriptor
            log.write(f"--- start {self.starts}\n")
            log.flush()
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        return _listening(self.process, self.port, timeout_s)

    def terminate(self, timeout_s: float = 10.0) -> int:
        """A graceful stop (SIGTERM: Mosquitto saves its database on the way down); the exit status."""
        self.process.terminate()
        return self.process.wait(timeout_s)

    def crash(self) -> None:
        """kill -9: no chance to save anything."""
        self.process.kill()
        self.process.wait(10)

    def saved_after(self, t_ns: int) -> bool:
        """A save finished after `t_ns` (time.time_ns()): the database file was renamed into place and its
        mtime is later. Mosquitto saves in its only thread, so such a save holds every message it had
        acknowledged before `t_ns`. (File times come from a coarse clock, never ahead of time.time_ns().)"""
        try:
            return self.db_path.stat().st_mtime_ns > t_ns
        except FileNotFoundError:
            return False

    def last_save_ns(self) -> int | None:
        try:
            return self.db_path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def log(self) -> str:
        return self.log_path.read_text()


def _broker_dir() -> Path:
    """A fresh persistence directory in the system temp directory. Mosquitto started as root switches to
    the user `mosquitto` (or `nobody`), which can neither enter pytest's root-only tmp_path nor write a
    root-owned directory: the directory is then given to that user."""
    import pwd
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="atmp-mosquitto-"))
    if os.geteuid() == 0:
        for user in ("mosquitto", "nobody"):
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                continue
            os.chown(directory, entry.pw_uid, entry.pw_gid)
            break
    return directory


@contextmanager
def configured_mosquitto(tmp_path: Path, template: str | None = None, *, append: str = ""
                         ) -> Iterator[ConfiguredBroker]:
    """A private broker from `template` (default: the shipped ingest/mosquitto/atmp-mosquitto.conf) on a
    free loopback port and a fresh persistence directory, `append` added at the end of the config.
    Missing binary: skip locally, fail in CI."""
    if not (Path(MOSQUITTO).is_file() and os.access(MOSQUITTO, os.X_OK)):
        message = f"mosquitto not found at {MOSQUITTO} (apt-get install mosquitto; `make test` installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    template = SHIPPED_BROKER_CONF.read_text() if template is None else template
    persistence_dir = _broker_dir()
    broker = None
    try:
        for attempt in range(3):  # another process (an xdist worker) may take the free port first
            port = free_port()
            conf = tmp_path / f"mosquitto-{port}.conf"
            conf.write_text(broker_config(template, port, persistence_dir) + append)
            broker = ConfiguredBroker(conf, port, persistence_dir, tmp_path / f"mosquitto-{port}.log")
            if broker.start():
                break
            if broker.process.poll() is None:
                broker.process.kill()
                broker.process.wait(5)
            if attempt == 2 or "in use" not in broker.log():
                raise RuntimeError(f"mosquitto did not start: {broker.log()}")
        yield broker
    finally:
        if broker is not None and broker.process is not None and broker.process.poll() is None:
            broker.process.kill()
            broker.process.wait(5)
        shutil.rmtree(persistence_dir, ignore_errors=True)


class AckClock:
    """When each QoS-1 publish of a client was acknowledged by the broker (PUBACK), by message id:
    `client.on_publish` records time.time_ns() in paho's network thread, right after reading it."""

    def __init__(self, client):
        self.acked_ns: dict[int, int] = {}
        client.on_publish = self._on_publish

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        if not reason_code.is_failure:
            self.acked_ns.setdefault(mid, time.time_ns())


def open_excursion_with_link(path: Path) -> tuple[Warehouse, str, str]:
    """A small network (test users) in a new DuckDB file with one open, unacknowledged CHI action excursion
    and a remote acknowledgement link to it: (warehouse, excursion id, token)."""
    from ingest.writer import IngestWriter, Message
    from queries.notifications import ack_links

    wh = Warehouse(f"duckdb:///{path}")
    wh.create_schema()
    seed_network(wh, with_users=True)
    now = utc_now().replace(microsecond=0)
    pairs = ramp("CHI-B1-T", "degC", [21.0] * 3 + [22.6] * 12, start=now - timedelta(minutes=3), step_s=10, tag="open")
    IngestWriter(wh, clock=lambda: now).write([Message(t, p, now) for t, p in pairs])
    with wh.engine.connect() as conn:
        excursion_id = conn.exec_driver_sql("SELECT excursion_id FROM excursions WHERE level = 'action'").scalar()
    token = ack_links.issue(wh, excursion_id=excursion_id, notification_id="N-test", recipient="oncall.chi@example.org",
                            now=now, hours=24)
    return wh, excursion_id, token
