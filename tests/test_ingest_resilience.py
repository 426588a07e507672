"""Issue 27 (fault injection on live ingest), against a real private Mosquitto and both engines:
poison payloads (raw NUL bytes, invalid UTF-8) never block ingest, a message that can be neither
stored nor quarantined is dead-lettered and acknowledged, ingest resumes at the first successful
probe after a database outage, and messages outside the topic pattern are quarantined instead of ignored."""

from __future__ import annotations

import json
import threading
import time

import pytest
from conftest import _empty_postgres_template, _pg_admin, app_for, dash_call, login, throwaway_postgres
from live_support import (
    PASSWORD,
    bridge_settings,
    mosquitto,
    publish_all,
    publisher,
    reading,
    seed_network,
    unique_prefix,
    utc_now,
    wait_for,
)
from sqlalchemy import text

from dashboard import ids
from ingest import dead_letter, readiness
from ingest import service as service_module
from ingest.bridge import MqttBridge, subscription
from ingest.service import IngestService
from ingest.validation import payload_for
from ingest.writer import IngestWriter, Message
from queries.engine.warehouse import Warehouse, WarehouseUnavailable
from queries.imports import ingest_store

pytestmark = pytest.mark.faults
RECEIVE_MAXIMUM = 50  # the burst below is four times the broker's in-flight window
POISON = 200
VALID = 100
SENSOR, UNIT = "CHI-B1-T", "degC"


@pytest.fixture
def broker(tmp_path):
    with mosquitto(tmp_path) as b:
        yield b


def scalar(wh, sql: str):
    with wh.engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def rows(wh, sql: str) -> list[tuple]:
    with wh.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).fetchall()]


def poison_payloads(n: int) -> list[bytes]:
    """What a gateway sending C string buffers (or garbage) publishes: raw NUL bytes, invalid UTF-8."""
    now = utc_now()
    out = []
    for i in range(n):
        good = payload_for(f"poison-{i}", now, 20.0, UNIT)
        out.append([
            good + b"\x00" * (1 + i % 13),  # the JSON, then the rest of the buffer
            b"\x00" * 8 + str(i).encode(),  # an empty buffer
            good.replace(b"poison", b"poi\x00son"),  # a raw NUL inside a JSON string
            b"\xff\xfe\x00" + str(i).encode() + b"\x00\x9c",  # not UTF-8 at all
        ][i % 4])
    return out


def valid_readings(prefix: str, tag: str, n: int) -> list[tuple[str, bytes]]:
    now = utc_now()
    return [(prefix + t, p) for t, p in (reading(SENSOR, now, 20.0 + i / 100, UNIT, f"{tag}-{i}") for i in range(n))]


@pytest.mark.requirement("URS-ING-003", "URS-ING-004")
@pytest.mark.mqtt
def test_a_nul_byte_burst_is_quarantined_byte_exact_and_valid_readings_follow(warehouse, broker):
    """200 poison messages (4x Receive Maximum), then 100 valid readings: all stored, nothing paused,
    every poison payload quarantined byte for byte, and acknowledged (a new bridge taking over the
    session gets none of them again)."""
    seed_network(warehouse)
    prefix = unique_prefix("it27")
    settings = bridge_settings(broker, mqtt_topic_prefix=prefix, mqtt_receive_maximum=RECEIVE_MAXIMUM)
    bridge = MqttBridge(settings, warehouse).start()
    assert bridge.wait_connected(10)
    pub = publisher(broker)
    poison = poison_payloads(POISON)
    topic = prefix + reading(SENSOR, utc_now(), 20.0, UNIT)[0]
    publish_all(pub, [(topic, p) for p in poison])
    started = time.monotonic()
    publish_all(pub, valid_readings(prefix, "after", VALID))
    wait_for(lambda: scalar(warehouse, "SELECT COUNT(*) FROM readings") >= VALID, 30, interval=0.05,
             message=f"{VALID} valid readings stored after {POISON} poison messages")
    took = time.monotonic() - started
    wait_for(lambda: scalar(warehouse, "SELECT COUNT(*) FROM quarantine") >= POISON, 30,
             message="every poison message quarantined")
    bridge.stop()
    print(f"{warehouse.dialect}: {VALID} valid readings stored {took:.2f} s after a {POISON}-message poison burst")
    # Nothing held ingest up: no failed write, no pause for the warehouse (speed is for bench/).
    assert (bridge.service.stats["failures"], bridge.service.stats["warehouse_waits"]) == (0, 0)

    stored = rows(warehouse, "SELECT topic, payload, reason FROM quarantine")
    assert len(stored) == POISON
    assert sorted(bytes(p) for _, p, _ in stored) == sorted(poison)  # byte for byte
    assert {t for t, _, _ in stored} == {topic}
    assert {r.split(":")[0] for _, _, r in stored} == {"malformed_json"}
    assert all("\x00" not in r for _, _, r in stored)

    # Every poison message was acknowledged: the broker re-delivers none of them to the next bridge.
    second = MqttBridge(settings, warehouse).start()
    assert second.wait_connected(10)
    publish_all(pub, valid_readings(prefix, "restart", 1))
    wait_for(lambda: scalar(warehouse, "SELECT COUNT(*) FROM readings") == VALID + 1, 10,
             message="a reading after the restart")
    second.stop()
    pub.disconnect()
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine") == POISON


@pytest.mark.requirement("URS-ING-004")
@pytest.mark.mqtt
def test_a_message_neither_stored_nor_quarantined_is_dead_lettered_and_acknowledged(warehouse, broker, tmp_path):
    """The quarantine table refuses every insert (here: it is gone). Each poison message fails as a
    reading and again in quarantine: it goes to the dead-letter file with both reasons, byte for
    byte, and is acknowledged; valid readings around it are stored."""
    seed_network(warehouse)
    with warehouse.transaction() as conn:
        conn.execute(text("ALTER TABLE quarantine RENAME TO quarantine_elsewhere"))
    prefix = unique_prefix("it27")
    settings = bridge_settings(broker, mqtt_topic_prefix=prefix, mqtt_receive_maximum=RECEIVE_MAXIMUM)
    dead = tmp_path / "dead-letters.jsonl"
    bridge = MqttBridge(settings, warehouse, dead_letter_path=dead).start()
    assert bridge.wait_connected(10)
    pub = publisher(broker)
    poison = poison_payloads(POISON)
    topic = prefix + reading(SENSOR, utc_now(), 20.0, UNIT)[0]
    publish_all(pub, [(topic, p) for p in poison])
    started = time.monotonic()
    publish_all(pub, valid_readings(prefix, "after", VALID))
    wait_for(lambda: scalar(warehouse, "SELECT COUNT(*) FROM readings") >= VALID, 60, interval=0.05,
             message=f"{VALID} valid readings stored")
    took = time.monotonic() - started
    wait_for(lambda: bridge.service.stats["dead_lettered"] >= POISON, 60, message="every poison message dead-lettered")
    bridge.stop()
    print(f"{warehouse.dialect}: {VALID} valid readings stored {took:.2f} s after {POISON} dead-lettered messages")
    # Each poison message failed twice (as a reading, then in quarantine) and never paused ingest.
    assert bridge.service.stats["failures"] >= 2 * POISON
    assert bridge.service.stats["warehouse_waits"] == 0

    records = dead_letter.read(dead)
    assert len(records) == POISON
    assert sorted(r["payload"] for r in records) == sorted(poison)  # byte for byte
    assert all(r["payload_bytes"] == len(r["payload"]) and r["topic"] == topic for r in records)
    assert all(r["reason"].startswith("write_failed: ") and "; quarantine_failed: " in r["reason"]
               for r in records)
    assert all(json.loads(line) for line in dead.read_text().splitlines())  # plain JSON Lines

    # Acknowledged: a new bridge on the same session gets none of them again.
    with warehouse.transaction() as conn:
        conn.execute(text("ALTER TABLE quarantine_elsewhere RENAME TO quarantine"))
    second = MqttBridge(settings, warehouse, dead_letter_path=dead).start()
    assert second.wait_connected(10)
    publish_all(pub, valid_readings(prefix, "restart", 1))
    wait_for(lambda: scalar(warehouse, "SELECT COUNT(*) FROM readings") == VALID + 1, 10,
             message="a reading after the restart")
    second.stop()
    pub.disconnect()
    assert len(dead_letter.read(dead)) == POISON
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine") == 0


def set_connections(database: str, allowed: bool) -> None:
    """A PostgreSQL outage for one database: refuse new connections and end the open ones."""
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
            if not allowed:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                             {"d": database})
    finally:
        admin.dispose()


OUTAGE_S = 8.0  # long enough for a doubling backoff (0.5, 1, 2, 4, 8 s) to have grown past 4 s


@pytest.mark.requirement("URS-ING-005")
@pytest.mark.mqtt
@pytest.mark.postgres
def test_ingest_resumes_at_the_first_probe_after_the_database_comes_back(broker):
    """PostgreSQL refuses connections for 8 s while readings arrive. Ingest resumes because a probe
    (every 0.25 s) succeeds after failing, not when a backoff runs out: once the worker only backed off,
    the first reading came 12.1 s after the database's return. The seconds are printed, not asserted
    (a loaded machine stretches them; speed is measured in bench/)."""
    with throwaway_postgres(template=_empty_postgres_template()) as url:
        wh = Warehouse(url)
        database = url.rsplit("/", 1)[1]
        try:
            seed_network(wh)
            prefix = unique_prefix("it27")
            bridge = MqttBridge(bridge_settings(broker, mqtt_topic_prefix=prefix, mqtt_receive_maximum=RECEIVE_MAXIMUM), wh).start()
            assert bridge.wait_connected(10)
            pub = publisher(broker)
            publish_all(pub, valid_readings(prefix, "before", 1))
            wait_for(lambda: scalar(wh, "SELECT COUNT(*) FROM readings") == 1, 10, message="a reading before")
            set_connections(database, False)
            try:
                publish_all(pub, valid_readings(prefix, "during", 20))
                wait_for(lambda: bridge.service.stats["failures"] >= 1, 10, message="a failed write")
                time.sleep(OUTAGE_S)  # the outage itself: how long the database stays away
                assert bridge.service.stats["inserted"] == 1
            finally:
                set_connections(database, True)
            back = time.monotonic()
            wait_for(lambda: bridge.service.stats["inserted"] > 1, 30, interval=0.02,
                     message="the first reading after the outage")
            resumed_s = time.monotonic() - back
            wait_for(lambda: scalar(wh, "SELECT COUNT(*) FROM readings") == 21, 10, message="all readings")
            bridge.stop()
            pub.disconnect()
            print(f"first reading stored {resumed_s:.2f} s after PostgreSQL accepted connections again "
                  f"(outage {OUTAGE_S:g} s, {bridge.service.stats['failures']} failed attempts)")
            assert bridge.service.stats["resumed_on_probe"] >= 1
        finally:
            wh.dispose()


@pytest.mark.requirement("URS-ING-010")
@pytest.mark.postgres
def test_readyz_tells_the_truth_while_the_warehouse_is_down(hub_app, monkeypatch):
    """/healthz says the process is up; /readyz says whether the warehouse answers, and why not,
    without the connection string."""
    with throwaway_postgres(template=_empty_postgres_template()) as url:
        wh = Warehouse(url)
        database = url.rsplit("/", 1)[1]
        monkeypatch.setitem(hub_app.server.extensions, "atmp_warehouse", wh)
        client = hub_app.server.test_client()  # anonymous: both probes are public
        try:
            up = client.get("/readyz")
            assert (up.status_code, up.get_json()) == (200, {"ready": True})
            set_connections(database, False)
            try:
                down = wait_for(lambda: (r := client.get("/readyz")).status_code == 503 and r, 20,
                                message="/readyz to answer 503")
                body = down.get_data(as_text=True)
                assert down.get_json() == {"ready": False,
                                           "reason": "warehouse unavailable: the database does not accept connections"}
                for secret in (database, "127.0.0.1", "5432", "postgres", "psycopg"):
                    assert secret not in body
                assert down.headers["Cache-Control"] == "no-store"
                assert client.get("/healthz").get_json() == {"status": "ok"}  # liveness only
            finally:
                set_connections(database, True)
            wait_for(lambda: client.get("/readyz").status_code == 200, 20, message="/readyz to answer 200 again")
        finally:
            wh.dispose()


class _HangingWarehouse:
    """A warehouse whose connection attempt hangs (a host that drops packets)."""

    def __init__(self):
        self.calls = 0
        self.release = threading.Event()

    def query(self, name):
        self.calls += 1
        self.release.wait(10)


@pytest.mark.requirement("URS-ING-010")
def test_a_hanging_warehouse_is_not_ready_within_the_deadline_and_gets_one_probe_at_a_time():
    wh = _HangingWarehouse()
    started = time.monotonic()
    assert readiness.probe(wh, 0.2) == "warehouse unavailable: no answer within 0.2 s"
    assert readiness.probe(wh, 0.2) == "warehouse unavailable: no answer within 0.2 s"
    assert time.monotonic() - started < 5.0  # not the hung query's 10 s
    assert wh.calls == 1  # the second probe waited for the first instead of opening another connection
    wh.release.set()
    assert wait_for(lambda: readiness.probe(wh, 0.5) is None, 10, message="the probe to succeed")


OFF_PATTERN = ("sites/CHI/rooms/CHI-B1/sensors/CHI-B1-T",  # a gateway with its own naming
               "site/CHI/room/CHI-B1/sensor/CHI-B1-T/raw",  # an extra level
               "site/CHI/room/CHI-B1")  # a level short


@pytest.mark.requirement("URS-ING-003", "URS-ING-009")
@pytest.mark.mqtt
def test_messages_outside_the_topic_pattern_are_quarantined_and_counted_on_the_monitoring_page(
        duckdb_warehouse, broker):
    wh = duckdb_warehouse
    seed_network(wh, with_users=True)
    prefix = unique_prefix("it27")
    bridge = MqttBridge(bridge_settings(broker, mqtt_topic_prefix=prefix, mqtt_receive_maximum=RECEIVE_MAXIMUM), wh).start()
    assert bridge.wait_connected(10)
    pub = publisher(broker)
    payload = payload_for("off-pattern", utc_now(), 20.0, UNIT)
    # Outside the prefix (not ours) first: were it delivered, it would be written before the rest.
    publish_all(pub, [("elsewhere/" + OFF_PATTERN[0], payload)] + [(prefix + t, payload) for t in OFF_PATTERN]
                + valid_readings(prefix, "ok", 1))
    wait_for(lambda: scalar(wh, "SELECT COUNT(*) FROM quarantine") >= len(OFF_PATTERN)
             and scalar(wh, "SELECT COUNT(*) FROM readings") == 1, 10, message="off-pattern messages quarantined")
    bridge.stop()
    pub.disconnect()
    stored = rows(wh, "SELECT topic, payload, reason FROM quarantine ORDER BY topic")
    assert [t for t, _, _ in stored] == sorted(prefix + t for t in OFF_PATTERN)
    assert all(r.startswith("bad_topic: topic is not " + prefix + "site/<site>/room/<room>/sensor/<sensor>")
               for _, _, r in stored)
    assert all(bytes(p) == payload for _, p, _ in stored)

    app = app_for(wh, simulator=False, mqtt_topic_prefix=prefix)
    client = app.server.test_client()
    assert login(client, "lead", PASSWORD).status_code == 302
    response = dash_call(client, app, [ids.MON_SITES, ids.MON_NET_AS_OF], {f"{ids.MON_NET_TICK}.n_intervals": 1})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert (f"Quarantined in the last 24 h: 3 messages, 3 of them on a topic outside "
            f"{prefix}site/<site>/room/<room>/sensor/<sensor>") in json.loads(body)["response"][ids.MON_SITES][
                "children"][1]["props"]["children"]


@pytest.mark.requirement("URS-ING-003")
def test_the_subscription_covers_everything_under_the_prefix():
    assert subscription("it27-x/") == "it27-x/#"
    assert subscription("plant/1/") == "plant/1/#"
    assert subscription("plant/1") == "plant/#"  # '#' must be a whole level
    assert subscription("") == "#"


def _poison_message(acks: list) -> Message:
    return Message(topic="site/CHI/room/CHI-B1/sensor/CHI-B1-T", payload=b"{\x00\xff", received_at=utc_now(),
                   ack=lambda: acks.append(1))


@pytest.mark.requirement("URS-ING-004")
def test_a_dead_letter_file_that_cannot_be_written_leaves_the_message_in_the_log_and_acknowledged(
        duckdb_warehouse, tmp_path, caplog):
    wh = duckdb_warehouse
    seed_network(wh)
    with wh.transaction() as conn:
        conn.execute(text("ALTER TABLE quarantine RENAME TO quarantine_elsewhere"))
    service = IngestService(IngestWriter(wh), dead_letter_path=tmp_path)  # a directory: open() fails
    acks: list = []
    result = service.write([_poison_message(acks)])
    assert (result.dead_lettered, acks) == (1, [1])
    logged = [r.getMessage() for r in caplog.records if r.levelname == "CRITICAL"]
    assert len(logged) == 1 and '"payload_b64":"ewD/"' in logged[0] and "quarantine_failed" in logged[0]


@pytest.mark.requirement("URS-ING-005")
def test_writes_refused_while_the_warehouse_answers_back_off(duckdb_warehouse, monkeypatch):
    """A read-only or full disk: probes succeed, writes fail. Retries wait 0.2, 0.4, 0.8 s (doubling)."""
    monkeypatch.setattr(service_module, "FIRST_BACKOFF_S", 0.2)
    monkeypatch.setattr(service_module, "PROBE_INTERVAL_S", 0.05)
    seed_network(duckdb_warehouse)
    writer = IngestWriter(duckdb_warehouse)
    attempts: list[float] = []
    real_write = writer.write

    def refusing(batch):
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise WarehouseUnavailable("warehouse unavailable: read-only file system")
        return real_write(batch)
    writer.write = refusing
    acks: list = []
    result = IngestService(writer).write([Message(*reading(SENSOR, utc_now(), 20.0, UNIT), utc_now(),
                                                  ack=lambda: acks.append(1))])
    waits = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert (result.inserted, acks, len(attempts)) == (1, [1], 4)
    for waited, backoff in zip(waits, (0.2, 0.4, 0.8), strict=True):
        assert waited >= backoff, waits
    assert waits[0] < waits[1] < waits[2], waits  # doubling, not one fixed pause


def test_a_duckdb_file_from_before_0005_keeps_text_payloads_escaped(duckdb_warehouse):
    """DuckDB files are not migrated: their TEXT column takes the bytes as escaped text (\\x00)."""
    wh = duckdb_warehouse
    seed_network(wh)
    with wh.transaction() as conn:
        conn.execute(text("ALTER TABLE quarantine ALTER COLUMN payload TYPE VARCHAR"))
    result = IngestWriter(wh).write([_poison_message([])])
    assert result.quarantined == 1
    assert rows(wh, "SELECT payload FROM quarantine") == [("{\\x00\\xFF",)]


class _CountingWarehouse:
    def __init__(self):
        self.calls = 0

    def query(self, name):
        self.calls += 1


def test_readyz_answers_are_reused_for_a_second():
    wh = _CountingWarehouse()
    assert readiness.probe(wh, 1.0, max_age_s=1.0) is None
    assert readiness.probe(wh, 1.0, max_age_s=1.0) is None
    assert wh.calls == 1


@pytest.mark.requirement("URS-ING-003")
def test_a_nul_in_topic_or_reason_is_stored_escaped_and_the_payload_raw(warehouse):
    with warehouse.transaction() as conn:
        ingest_store.quarantine(warehouse, conn, {"received_at": [utc_now()], "topic": ["a\x00b"],
                                                  "payload": [b"\x00\x01\xff"], "reason": ["bad_topic: c\x00d"]})
    (topic, payload, reason), = rows(warehouse, "SELECT topic, payload, reason FROM quarantine")
    assert (topic, bytes(payload), reason) == ("a\\x00b", b"\x00\x01\xff", "bad_topic: c\\x00d")
