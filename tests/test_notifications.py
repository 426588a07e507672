"""Notifications (issue 12) with real parts: a real SMTP server on loopback (tests/mail_support.py), the
MQTT bridge on a real Mosquitto, the dispatcher as its own process killed with -9, both engines.

What is checked: an event and its messages commit together (queries/notifications/outbox.py); the message
names site, room, sensor, parameter, value, limit, start in local time and UTC and a link; escalation
steps and reminders stop at the acknowledgement; a mail server away is retried until it answers, every
attempt recorded; a dispatcher killed mid-send is replaced and no message is lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from cli_runner import atmp_hub
from conftest import throwaway_postgres
from live_support import (
    PASSWORD,
    bridge_settings,
    free_port,
    mosquitto,
    publish_all,
    publisher,
    ramp,
    seed_network,
    utc_now,
    wait_for,
)
from receivers import Mailbox, WebhookReceiver
from sqlalchemy import text

from ingest.writer import IngestWriter, Message
from notify.dispatcher import Dispatcher
from queries.analyses.monitoring import acknowledge
from queries.engine.scope import build_scope
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse
from queries.notifications import outbox, rules
from queries.records import users

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rows(wh, sql: str, **params) -> list:
    with wh.engine.connect() as conn:
        return conn.execute(text(sql), params).fetchall()


def settings_for(wh: Warehouse, mailbox: Mailbox | None, **overrides) -> Settings:
    chosen = {"smtp_url": mailbox.url if mailbox else "", "public_url": "https://hub.example.org", **overrides}
    return Settings.from_env({}, database_url=wh.url, secret_key="test", **chosen)


class Clock:
    """The dispatcher's clock, moved by the test (escalation and back-off without waiting)."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def mailbox():
    box = Mailbox(free_port()).start()
    yield box
    box.stop()


def action_excursion(wh: Warehouse, at, tag: str = "t", sensor: str = "CHI-B1-T") -> str:
    """A grade B temperature sensor (CHI-B1-T unless told) above its action limit (22.0 degC, 60 s delay; alert
    21.5 degC, 300 s) at 22.6 degC for six minutes, written as ingest writes it: an action excursion inside an
    alert one."""
    pairs = ramp(sensor, "degC", [21.0] * 3 + [22.6] * 37, start=at - timedelta(minutes=7), step_s=10, tag=tag)
    IngestWriter(wh, clock=lambda: at, public_url="https://hub.example.org").write([Message(t, p, at) for t, p in pairs])
    return rows(wh, "SELECT excursion_id FROM excursions WHERE sensor_id = :s AND level = 'action' "
                    "ORDER BY detected_at DESC LIMIT 1", s=sensor)[0][0]


def warehouse_file(tmp_path, *added: rules.Rule, with_users: bool = False, name: str = "hub.duckdb") -> str:
    """A DuckDB file with the small network (and its rules), made and closed by this process: the URL for
    the commands a test then runs as processes of their own."""
    url = f"duckdb:///{tmp_path / name}"
    wh = Warehouse(url)
    wh.create_schema()
    seed_network(wh, with_users=with_users)
    for rule in added:
        rules.add(wh, rule, by="lead", reason="test rule")
    wh.dispose()
    return url


@pytest.mark.requirement("URS-NOT-001", "URS-NOT-002", "URS-NOT-004")
def test_an_action_excursion_is_mailed_with_what_where_and_when(warehouse, mailbox):
    seed_network(warehouse)
    rules.add(warehouse, rules.Rule(event="excursion_action", recipient="oncall.chi@example.org", site_id="CHI"),
              by="lead", reason="on-call at CHI")
    rules.add(warehouse, rules.Rule(event="excursion_action", recipient="oncall.atl@example.org", site_id="ATL"),
              by="lead", reason="on-call at ATL")
    rules.add(warehouse, rules.Rule(event="excursion_action", recipient="isolators@example.org", grade="A"),
              by="lead", reason="grade A rooms only")
    rules.add(warehouse, rules.Rule(event="excursion_action", recipient="b-temp@example.org", grade="B",
                                    parameter="temperature"), by="lead", reason="grade B temperature")
    now = utc_now().replace(microsecond=0)
    excursion_id = action_excursion(warehouse, now)

    queued = rows(warehouse, "SELECT recipient, status, due_at FROM notification_outbox")
    # CHI's on-call and the grade B temperature rule: not ATL's on-call, not the grade A rule.
    assert sorted((r[0], r[1]) for r in queued) == [("b-temp@example.org", "pending"),
                                                    ("oncall.chi@example.org", "pending")]
    # The grade B rule matched (above); the rest of this test follows the on-call message alone.
    with warehouse.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM notification_outbox WHERE recipient = 'b-temp@example.org'")
    results = Dispatcher(warehouse, settings_for(warehouse, mailbox)).dispatch_due()
    assert [r.outcome for r in results] == ["sent"]

    (mail,) = mailbox.received
    assert mail["X-Envelope-To"] == "oncall.chi@example.org"
    assert mail["Message-ID"] == f"<{results[0].notification_id}@atmp-hub>"
    assert mail["Subject"].startswith("[ATMP Hub] ACTION excursion: temperature in CHI-B1 (CHI), 22.6 degC")
    body = mail.get_payload(decode=True).decode()
    for expected in (excursion_id, "CHI-B1-T", "grade B", "temperature", "22.6 degC", "action limit >",
                     "UTC)", f"https://hub.example.org/excursion/{excursion_id}",
                     "Proposed deviation: DEV-"):
        assert expected in body, (expected, body)
    # Start in the site's local time (CHI: America/Chicago, CST or CDT) and in UTC.
    start_line = next(line for line in body.splitlines() if line.startswith("Started:"))
    assert ("CST" in start_line or "CDT" in start_line) and start_line.endswith("UTC)")

    (state,) = rows(warehouse, "SELECT status, attempts, last_response FROM notification_outbox")
    assert state[0] == "sent" and state[1] == 1 and "250" in state[2]
    (attempt,) = rows(warehouse, "SELECT attempt, outcome, response FROM notification_attempts")
    assert attempt[:2] == (1, "sent") and "accepted" in attempt[2]
    audited = rows(warehouse, "SELECT action, object_id, new_value FROM audit_log WHERE action LIKE 'notification%' "
                              "ORDER BY entry_id")
    assert [a[0] for a in audited] == ["notification_rule_added"] * 4 + ["notification_sent"]
    assert audited[-1][1] == excursion_id and "oncall.chi@example.org" in audited[-1][2]
    # A second pass sends nothing more; the same excursion written again queues nothing more.
    assert Dispatcher(warehouse, settings_for(warehouse, mailbox)).dispatch_due() == []
    assert len(mailbox.received) == 1


@pytest.mark.requirement("URS-NOT-001")
def test_an_event_rolled_back_queues_nothing(duckdb_warehouse):
    """The outbox row is written in the event's transaction: an event that does not commit is never sent."""
    wh = duckdb_warehouse
    seed_network(wh)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org"), by="lead", reason="all sites")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), wh.transaction() as conn:
        outbox.queue(wh, conn, outbox.matching_rules(wh, conn, "excursion_action", "CHI"), event="excursion_action",
                     event_id="EXC-x", site_id="CHI", at=utc_now(), message=outbox.Message("s", "b"))
        assert rows(wh, "SELECT COUNT(*) FROM notification_outbox")[0][0] == 0  # not visible outside yet
        raise Boom
    assert rows(wh, "SELECT COUNT(*) FROM notification_outbox")[0][0] == 0


@pytest.mark.requirement("URS-NOT-001", "URS-NOT-003")
def test_escalation_and_reminders_stop_at_the_acknowledgement(duckdb_warehouse, mailbox):
    wh = duckdb_warehouse
    seed_network(wh, with_users=True)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org", site_id="CHI",
                             repeat_every_s=600, repeat_max=3), by="lead", reason="step 1: on-call, reminders")
    rules.add(wh, rules.Rule(event="excursion_action", recipient="manager@example.org", site_id="CHI", delay_s=1200),
              by="lead", reason="step 2: site manager at 20 min")
    rules.add(wh, rules.Rule(event="excursion_alert", recipient="alerts@example.org"), by="lead", reason="alerts")
    start = utc_now().replace(microsecond=0)
    excursion_id = action_excursion(wh, start)
    clock = Clock(start)
    dispatcher = Dispatcher(wh, settings_for(wh, mailbox), clock=clock)

    def to(address):
        return [subject(m) for m in mailbox.received if m["X-Envelope-To"] == address]

    dispatcher.dispatch_due()
    assert len(to("oncall@example.org")) == 1 and to("manager@example.org") == []
    assert len(to("alerts@example.org")) == 1  # the alert excursion around the action one: its own rule
    clock.now = start + timedelta(seconds=600)
    dispatcher.dispatch_due()
    assert to("oncall@example.org")[-1].endswith("(reminder 1: not acknowledged)")
    assert to("manager@example.org") == []
    scope = build_scope(user_id="mgr.chi", role="site_manager", own_site="CHI", all_sites=["ATL", "CHI"],
                        end=start + timedelta(hours=1), days=7)
    acknowledge(wh, scope, user_id="mgr.chi", role="site_manager", own_site="CHI", excursion_id=excursion_id,
                password=PASSWORD, comment="door left open during transfer; closed", now=start + timedelta(seconds=700),
                tell_notified="https://hub.example.org")
    clock.now = start + timedelta(hours=2)
    results = dispatcher.dispatch_due()
    assert to("manager@example.org") == []  # step 2 never went out
    # The on-call, who had been told, hears who acknowledged and why; nobody else does.
    assert len(to("oncall@example.org")) == 3
    assert to("oncall@example.org")[-1] == f"[ATMP Hub] ACKNOWLEDGED: excursion {excursion_id} (CHI) by mgr.chi"
    told = next(m for m in mailbox.received if "ACKNOWLEDGED" in m["Subject"]).get_payload(decode=True).decode()
    assert "door left open during transfer; closed" in told
    cancelled = [r for r in results if r.outcome == "cancelled"]
    assert len(cancelled) == 3 and len(results) == 4  # reminders 2 and 3, and step 2; and the news
    assert all("acknowledged by mgr.chi" in r.response for r in cancelled)
    statuses = dict(rows(wh, "SELECT status, COUNT(*) FROM notification_outbox GROUP BY status"))
    assert statuses == {"sent": 4, "cancelled": 3}
    assert rows(wh, "SELECT COUNT(*) FROM audit_log WHERE action = 'notification_cancelled'")[0][0] == 3


@pytest.mark.requirement("URS-NOT-004")
def test_a_mail_server_away_is_retried_until_it_answers_and_every_attempt_is_recorded(warehouse):
    seed_network(warehouse)
    rules.add(warehouse, rules.Rule(event="excursion_action", recipient="oncall@example.org"), by="lead", reason="x")
    start = utc_now().replace(microsecond=0)
    action_excursion(warehouse, start)
    mailbox = Mailbox(free_port())  # not started: nothing listens on its port
    clock = Clock(start)
    dispatcher = Dispatcher(warehouse, settings_for(warehouse, mailbox, notify_retry_max_s=60), clock=clock)

    for minute in (0, 1, 2):  # two minutes of a server that is away: an attempt at each back-off
        clock.now = start + timedelta(minutes=minute, seconds=1)
        dispatcher.dispatch_due()
    failed = rows(warehouse, "SELECT attempt, outcome, response FROM notification_attempts ORDER BY attempt")
    assert [f[1] for f in failed] == ["failed"] * 3
    assert all("ConnectionRefusedError" in f[2] and f"127.0.0.1:{mailbox.port}" in f[2] for f in failed)
    (pending,) = rows(warehouse, "SELECT status, next_attempt_at FROM notification_outbox")
    assert pending[0] == "pending" and pending[1] > clock.now  # waiting for its next attempt
    mailbox.start()
    try:
        clock.now = start + timedelta(minutes=4)
        dispatcher.dispatch_due()
        clock.now = start + timedelta(minutes=30)
        dispatcher.dispatch_due()
        assert len(mailbox.received) == 1
    finally:
        mailbox.stop()
    assert [r[1] for r in rows(warehouse, "SELECT attempt, outcome FROM notification_attempts ORDER BY attempt")] == \
        ["failed", "failed", "failed", "sent"]


@pytest.mark.requirement("URS-NOT-004")
def test_without_a_mail_server_each_message_is_printed_and_recorded_as_printed(duckdb_warehouse, caplog):
    wh = duckdb_warehouse
    seed_network(wh)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org"), by="lead", reason="x")
    action_excursion(wh, utc_now())
    with caplog.at_level("WARNING", logger="notify.channels"):
        (result,) = Dispatcher(wh, settings_for(wh, None)).dispatch_due()
    assert result.outcome == "printed"
    assert "NOT e-mailed (ATMP_SMTP_URL is not set)" in caplog.text and "ACTION excursion" in caplog.text
    assert rows(wh, "SELECT status FROM notification_outbox")[0][0] == "printed"
    assert rows(wh, "SELECT outcome FROM notification_attempts")[0][0] == "printed"


@pytest.mark.requirement("URS-NOT-001")
@pytest.mark.mqtt
def test_a_reading_published_to_the_broker_ends_in_a_mailbox(duckdb_warehouse, mailbox, tmp_path):
    """Sensor messages over a real Mosquitto, the bridge, the excursion, the outbox, the dispatcher, SMTP."""
    wh = duckdb_warehouse
    seed_network(wh)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org", site_id="CHI"),
              by="lead", reason="x")
    from ingest.bridge import MqttBridge

    with mosquitto(tmp_path) as broker:
        settings = bridge_settings(broker, smtp_url=mailbox.url, notify_poll_s=0.1)
        bridge = MqttBridge(settings, wh).start()
        stop = Dispatcher(wh, settings).start()
        try:
            assert bridge.wait_connected(10)
            client = publisher(broker)
            now = utc_now()
            published = time.monotonic()
            publish_all(client, ramp("CHI-B1-T", "degC", [21.0, 21.0] + [22.6] * 9, start=now - timedelta(seconds=100),
                                     step_s=10, tag="mq"))
            wait_for(lambda: mailbox.received, 20, message="the e-mail")
            latency = time.monotonic() - published
            client.disconnect()
        finally:
            stop.set()
            bridge.stop()
    (mail,) = mailbox.received
    assert "ACTION excursion: temperature in CHI-B1" in mail["Subject"]
    print(f"published -> accepted by the SMTP server: {latency:.2f} s")


@pytest.mark.requirement("URS-NOT-009", "URS-NOT-010")
def test_rules_through_the_command_line_are_checked_and_audited(tmp_path):
    url = warehouse_file(tmp_path)
    env = {"ATMP_DATABASE_URL": url}
    fresh = f"duckdb:///{tmp_path / 'demo.duckdb'}"
    empty = Warehouse(fresh)
    empty.create_schema()
    empty.dispose()
    demo = atmp_hub("notify", "demo", env={"ATMP_DATABASE_URL": fresh})  # what `make run` does
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.count(": excursion_action") == 2 and demo.stdout.count(": import_rejected") == 1
    assert "ATMP_SMTP_URL is not set: the app prints each notification to its log" in demo.stdout
    refused = atmp_hub("notify", "rules", "add", "--event", "excursion_action", "--email", "not-an-address",
                       "--site", "XXX", "--reason", "r", env=env)
    assert refused.returncode == 2
    assert "recipient 'not-an-address' is not one e-mail address" in refused.stderr
    assert "site 'XXX' is not a site of the network" in refused.stderr
    neither = atmp_hub("notify", "rules", "add", "--event", "excursion_action", "--reason", "r", env=env)
    assert neither.returncode == 2 and "give one of --email ADDRESS or --webhook URL" in neither.stderr
    short = tmp_path / "short.secret"
    short.write_text("too short")
    unstartable = atmp_hub("notify", "run", "--once", env={**env, "ATMP_WEBHOOK_SECRET_FILE": str(short)})
    assert unstartable.returncode == 2 and "holds 9 bytes, fewer than 32" in unstartable.stderr
    added = atmp_hub("notify", "rules", "add", "--event", "excursion_action", "--email", "qa@example.org",
                     "--site", "CHI", "--delay", "60", "--repeat-every", "600", "--repeat-max", "2",
                     "--user", "lead", "--reason", "step 1", env=env)
    assert added.returncode == 0, added.stderr
    rule_id = added.stdout.split(":")[0]
    listed = atmp_hub("notify", "rules", "list", env=env)
    assert f"{rule_id} active" in listed.stdout
    assert "excursion_action (site CHI) → email qa@example.org after 1 min, then every 10 min up to 2 more" in listed.stdout
    off = atmp_hub("notify", "rules", "deactivate", rule_id, "--user", "lead", "--reason", "left", env=env)
    assert off.returncode == 0 and f"{rule_id} inactive" in atmp_hub("notify", "rules", "list", env=env).stdout
    again = atmp_hub("notify", "rules", "deactivate", rule_id, "--reason", "again", env=env)
    assert again.returncode == 2 and f"no active rule '{rule_id}'" in again.stderr
    demo = atmp_hub("notify", "demo", env=env)
    assert "notification rules exist already; none added" in demo.stdout
    wh = Warehouse(url)
    try:
        assert [r[0] for r in rows(wh, "SELECT action FROM audit_log ORDER BY entry_id")] == [
            "notification_rule_added", "notification_rule_deactivated"]
    finally:
        wh.dispose()


@pytest.mark.requirement("URS-NOT-005")
@pytest.mark.postgres
@pytest.mark.faults  # the dispatcher process is killed with -9 mid-send
def test_a_dispatcher_killed_mid_send_is_replaced_and_every_message_arrives_once(tmp_path):
    n = 12
    mailbox = Mailbox(free_port(), accept_delay_s=0.3).start()
    with throwaway_postgres() as url:
        wh = Warehouse(url)
        try:
            wh.create_schema()
            seed_network(wh)
            rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org"), by="lead", reason="x")
            at = utc_now()
            with wh.transaction() as conn:
                found = outbox.matching_rules(wh, conn, "excursion_action", "CHI")
                for i in range(n):
                    outbox.queue(wh, conn, found, event="excursion_action", event_id=f"EXC-{i:02d}", site_id="CHI",
                                 at=at, message=outbox.Message(f"excursion {i}", "body"))
            env = {**os.environ, "ATMP_DATABASE_URL": url, "ATMP_SMTP_URL": mailbox.url,
                   "ATMP_NOTIFY_POLL_S": "0.1", "ATMP_NOTIFY_SEND_TIMEOUT_S": "1"}

            def dispatcher() -> subprocess.Popen:
                return subprocess.Popen([sys.executable, "-m", "dashboard.cli", "notify", "run"], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            first = dispatcher()
            wait_for(lambda: len(mailbox.received) >= 4, 30, message="four messages accepted")
            mailbox.receiving.clear()
            assert mailbox.receiving.wait(10)  # the next one is in DATA, not yet accepted
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            killed_at = len(mailbox.received)
            second = dispatcher()
            try:
                wait_for(lambda: rows(wh, "SELECT COUNT(*) FROM notification_outbox WHERE status = 'sent'")[0][0] == n,
                         60, interval=0.1, message="every message sent")
            finally:
                second.terminate()
                second.wait(10)
            ids = mailbox.message_ids()
            assert len(ids) == n and len(set(ids)) == n  # each arrived, and once
            assert killed_at < n
            interrupted = rows(wh, "SELECT notification_id, attempt FROM notification_attempts WHERE outcome = 'interrupted'")
            assert len(interrupted) == 1  # the one in flight at the kill, then sent by the second dispatcher
            (after,) = rows(wh, "SELECT outcome FROM notification_attempts WHERE notification_id = :i AND attempt = 2",
                            i=interrupted[0][0])
            assert after[0] == "sent"
        finally:
            wh.dispose()
            mailbox.stop()


@pytest.mark.requirement("URS-NOT-011")
def test_a_file_the_drop_folder_refuses_is_mailed_once_through_the_commands(tmp_path, mailbox):
    """`atmp-hub watch-imports --once` refuses a file and queues its message with the audit entry;
    `atmp-hub notify run --once` (another process) mails it; the same file dropped again mails nothing new."""
    url = warehouse_file(tmp_path, rules.Rule(event="import_rejected", recipient="steward@example.org"))
    drop = tmp_path / "drop"
    (drop / "deviations").mkdir(parents=True)
    bad = "deviation_id,site_id,occurred_at\nDEV-1,CHI,not a date\n"
    env = {"ATMP_DATABASE_URL": url, "ATMP_SMTP_URL": mailbox.url}
    for _ in range(2):
        (drop / "deviations" / "export.csv").write_text(bad)
        watched = atmp_hub("watch-imports", str(drop), "--settle", "0", "--once", env=env)
        assert watched.returncode == 0 and "rejected: export.csv" in watched.stdout, watched.stdout + watched.stderr
        sent = atmp_hub("notify", "run", "--once", env=env)
        assert sent.returncode == 0, sent.stderr
    (mail,) = mailbox.received  # the second drop of the same bytes: refused and audited again, not mailed again
    assert mail["Subject"].startswith("[ATMP Hub] import refused: export.csv (deviations)")
    body = mail.get_payload(decode=True).decode()
    assert "nothing was written" in body and "SHA-256: " in body and "rejected/" in body
    assert "missing" in body  # the problems themselves, as the report names them
    wh = Warehouse(url)
    try:
        assert rows(wh, "SELECT COUNT(*) FROM audit_log WHERE action = 'import_rejected'")[0][0] == 2
        assert rows(wh, "SELECT status FROM notification_outbox") == [("sent",)]
    finally:
        wh.dispose()
    listed = atmp_hub("notify", "outbox", "--last", "5", env=env)
    assert listed.returncode == 0 and listed.stdout.count("\n") == 1
    assert "sent      attempts 1" in listed.stdout and "to steward@example.org: [ATMP Hub] import refused" in listed.stdout
    assert "accepted it for steward@example.org: 250" in listed.stdout


@pytest.mark.requirement("URS-NOT-011")
def test_the_served_app_mails_what_its_own_drop_folder_refuses(tmp_path, mailbox):
    """`atmp-hub serve` as a newcomer starts it: the app's own dispatcher (ATMP_NOTIFY_IN_APP, on by default)
    mails the refusal of a file its own drop folder watcher took."""
    url = warehouse_file(tmp_path, rules.Rule(event="import_rejected", recipient="steward@example.org"))
    drop = tmp_path / "drop"
    (drop / "capas").mkdir(parents=True)
    dropped = drop / "capas" / "capas.csv"
    dropped.write_text("capa_id\nCAPA-1\n")
    os.utime(dropped, (time.time() - 60, time.time() - 60))  # settled: taken at the first scan
    env = {**os.environ, "ATMP_DATABASE_URL": url, "ATMP_PORT": str(free_port()), "ATMP_SMTP_URL": mailbox.url,
           "ATMP_IMPORT_DROP_DIR": str(drop), "ATMP_SIMULATOR": "false", "ATMP_ENVIRONMENT": "development"}
    server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: mailbox.received or server.poll() is not None, 90, interval=0.2, message="the mail")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    assert len(mailbox.received) == 1, err
    assert mailbox.received[0]["Subject"].startswith("[ATMP Hub] import refused: capas.csv (capas)")
    assert "notifications: e-mail via smtp://127.0.0.1" in err


@pytest.mark.requirement("URS-NOT-004", "URS-NOT-009")
def test_a_webhook_is_signed_retried_on_a_server_error_and_refused_without_its_secret(duckdb_warehouse, tmp_path):
    wh = duckdb_warehouse
    seed_network(wh)
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_text("7f" * 32)
    with pytest.raises(ValueError, match="is not an https:// URL"):
        rules.add(wh, rules.Rule(event="excursion_action", channel="webhook", recipient="http://example.org/x"),
                  by="lead", reason="x")
    with WebhookReceiver(secret_file.read_bytes().strip()) as receiver:
        rules.add(wh, rules.Rule(event="excursion_action", channel="webhook", recipient=receiver.url),
                  by="lead", reason="the paging gateway")
        start = utc_now().replace(microsecond=0)
        excursion_id = action_excursion(wh, start)
        clock = Clock(start)
        unsigned = Dispatcher(wh, settings_for(wh, None), clock=clock)  # no secret: not sent, and says why
        (result,) = unsigned.dispatch_due()
        assert result.outcome == "failed" and "ATMP_WEBHOOK_SECRET_FILE is not set" in result.response
        receiver.answers.append(503)  # the gateway busy once
        dispatcher = Dispatcher(wh, settings_for(wh, None, webhook_secret_file=str(secret_file)), clock=clock)
        clock.now = start + timedelta(minutes=1)
        (busy,) = dispatcher.dispatch_due()
        assert busy.outcome == "failed" and "answered HTTP 503: try again later" in busy.response
        clock.now = start + timedelta(minutes=5)
        (sent,) = dispatcher.dispatch_due()
        assert sent.outcome == "sent" and "answered HTTP 200" in sent.response
    assert receiver.refused == []  # every request carried a valid signature
    (hook,) = receiver.accepted
    assert hook["headers"]["x-atmp-notification"] == sent.notification_id
    assert hook["json"]["event_id"] == excursion_id and hook["json"]["site_id"] == "CHI"
    assert "ACTION excursion" in hook["json"]["subject"] and "CHI-B1-T" in hook["json"]["body"]
    assert [r[0] for r in rows(wh, "SELECT outcome FROM notification_attempts ORDER BY attempt")] == \
        ["failed", "failed", "sent"]


def subject(mail) -> str:
    """The Subject header unfolded (a long one is folded over lines, RFC 5322)."""
    return " ".join(str(mail["Subject"]).split())


def write_readings(wh: Warehouse, at, sensors: dict[str, str], tag: str) -> None:
    """One calm reading of each sensor (id -> unit), stored by ingest at `at`."""
    values = {"degC": 20.0, "pct_rh": 45.0, "Pa": 20.0, "count_m3": 100.0}
    IngestWriter(wh, clock=lambda: at).write([Message(*ramp(s, unit, [values[unit]], start=at - timedelta(seconds=5),
                                                           step_s=1, tag=f"{tag}-{s}")[0], at)
                                              for s, unit in sensors.items()])


@pytest.mark.requirement("URS-NOT-008")
@pytest.mark.requirement("URS-AUD-011")
def test_system_alarms_reach_their_addresses_without_any_rule_and_clear(duckdb_warehouse, mailbox):
    """A silent sensor, then ingest stopped altogether, then the audit trail tampered with: each a system
    alarm, mailed to ATMP_SYSTEM_ALARM_TO although no rule exists, raised once, cleared when it ends."""
    from notify.alarms import Watchdog

    wh = duckdb_warehouse
    seed_network(wh)
    sensors = {"CHI-B1-T": "degC", "CHI-B1-RH": "pct_rh", "ATL-B1-T": "degC"}
    interval = rows(wh, "SELECT MAX(interval_s) FROM sensors WHERE sensor_id IN ('CHI-B1-T', 'CHI-B1-RH', 'ATL-B1-T')")[0][0]
    start = utc_now().replace(microsecond=0)
    write_readings(wh, start, sensors, "t0")
    clock = Clock(start)
    settings = settings_for(wh, mailbox, system_alarm_to="qa-systems@example.org, it-oncall@example.org",
                            alarm_audit_check_s=0)  # verified at every check
    watchdog, dispatcher = Watchdog(wh, settings, clock), Dispatcher(wh, settings, clock=clock)

    clock.now = start + timedelta(seconds=interval * 5)
    assert watchdog.check() == []
    later = start + timedelta(seconds=interval * 11)
    write_readings(wh, later, {"CHI-B1-T": "degC", "ATL-B1-T": "degC"}, "t1")  # CHI-B1-RH stays silent
    clock.now = later + timedelta(seconds=5)
    (raised,) = watchdog.check()
    assert raised.startswith("sensor_silent/CHI-B1-RH/")
    assert watchdog.check() == []  # raised once while it lasts
    dispatcher.dispatch_due()
    assert sorted(m["X-Envelope-To"] for m in mailbox.received) == ["it-oncall@example.org", "qa-systems@example.org"]
    assert "SYSTEM ALARM: sensor CHI-B1-RH (humidity, room CHI-B1, CHI) silent since" in subject(mailbox.received[0])

    back = later + timedelta(seconds=30)
    write_readings(wh, back, {"CHI-B1-RH": "pct_rh"}, "t2")
    clock.now = back + timedelta(seconds=1)
    assert watchdog.check() == []
    assert rows(wh, "SELECT COUNT(*) FROM system_alarms WHERE cleared_at IS NULL")[0][0] == 0

    clock.now = back + timedelta(seconds=interval * 12)  # nothing stored from anyone: one alarm, not three
    (stopped,) = watchdog.check()
    assert stopped.startswith("ingest_stopped/network/")

    with wh.engine.begin() as conn:  # someone edits the trail behind the hub's back
        conn.exec_driver_sql("INSERT INTO audit_log (ts, user_id, action, prev_hash, entry_hash) "
                             "VALUES (now(), 'x', 'forged', 'bad', 'bad')")
    raised = watchdog.check()
    assert [a.split("/")[0] for a in raised] == ["audit_chain"]
    dispatcher.dispatch_due()
    subjects = [subject(m) for m in mailbox.received]
    assert sum("SYSTEM ALARM: ingest stopped" in s for s in subjects) == 2
    assert sum("SYSTEM ALARM: the audit trail fails verification" in s for s in subjects) == 2


@pytest.mark.requirement("URS-NOT-008")
def test_a_notification_that_keeps_failing_is_itself_an_alarm(duckdb_warehouse, caplog):
    from notify.alarms import Watchdog

    wh = duckdb_warehouse
    seed_network(wh)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org"), by="lead", reason="x")
    start = utc_now().replace(microsecond=0)
    action_excursion(wh, start)
    clock = Clock(start)
    settings = settings_for(wh, Mailbox(free_port()))  # nothing listens; no ATMP_SYSTEM_ALARM_TO
    dispatcher, watchdog = Dispatcher(wh, settings, clock=clock), Watchdog(wh, settings, clock)
    for minute in (0, 1, 2):
        clock.now = start + timedelta(minutes=minute, seconds=1)
        assert watchdog.check() == []
        dispatcher.dispatch_due()
    (raised,) = watchdog.check()
    assert raised.startswith("delivery_failing/N-")
    with caplog.at_level("WARNING", logger="notify.channels"):
        results = dispatcher.dispatch_due()
    assert [r.outcome for r in results if r.response.startswith("printed")] == ["printed"]
    assert "NOT e-mailed (ATMP_SYSTEM_ALARM_TO is not set)" in caplog.text
    assert "not delivered after 3 attempts" in caplog.text


@pytest.mark.requirement("URS-NOT-008")
@pytest.mark.postgres
def test_a_warehouse_that_does_not_answer_is_an_alarm_sent_around_it_and_cleared(mailbox):
    """The warehouse cannot hold its own alarm: a dispatcher pointed at a PostgreSQL database that does not
    exist yet mails the alarm straight to ATMP_SYSTEM_ALARM_TO; once the database is there, the all-clear."""
    import threading
    import uuid

    from conftest import PG_ADMIN_URL
    from sqlalchemy import create_engine

    name = f"atmp_test_outage_{uuid.uuid4().hex[:8]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    wh = Warehouse(url)
    settings = Settings.from_env({}, database_url=url, secret_key="x", smtp_url=mailbox.url,
                                 system_alarm_to="it-oncall@example.org", alarm_check_s=0.3, notify_poll_s=0.1)
    stop = threading.Event()
    runner = threading.Thread(target=Dispatcher(wh, settings).run, args=(stop,), daemon=True)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    runner.start()
    try:
        wait_for(lambda: mailbox.received, 20, message="the alarm")
        assert "SYSTEM ALARM: the warehouse is unreachable since" in subject(mailbox.received[0])
        assert name in mailbox.received[0].get_payload(decode=True).decode()  # the driver's own words
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        wh.create_schema()
        wait_for(lambda: len(mailbox.received) == 2, 20, message="the all-clear")
        assert "cleared: the warehouse answers again" in subject(mailbox.received[1])
        assert rows(wh, "SELECT object_id FROM audit_log WHERE action = 'system_alarm_cleared'") == [
            ("warehouse_unreachable",)]
    finally:
        stop.set()
        runner.join(10)
        wh.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.requirement("URS-NOT-006")
def test_who_is_on_call_follows_the_sites_clock_through_nights_weekends_and_daylight_saving():
    from datetime import datetime

    from queries.notifications.on_call import Shift, on_call_at

    day = Shift("12345", "07:00", "19:00", "day@example.org")
    night = Shift("12345", "19:00", "07:00", "night@example.org")  # starts Monday..Friday evening
    weekend = Shift("67", "07:00", "07:00", "weekend@example.org")  # Saturday and Sunday 07:00, 24 h each

    def who(utc: str) -> list[str]:
        return [s.recipient for s in on_call_at([day, night, weekend], datetime.fromisoformat(utc), "America/Chicago")]
    assert who("2026-12-07T16:00") == ["day@example.org"]       # Monday 10:00 CST
    assert who("2026-12-08T01:00") == ["night@example.org"]     # Monday 19:00 CST: the day shift has ended
    assert who("2026-12-07T12:59") == ["weekend@example.org"]   # Monday 06:59: Sunday's 24 h run to 07:00
    assert who("2026-12-12T12:59") == ["night@example.org"]     # Saturday 06:59: Friday's night shift
    assert who("2026-12-12T13:00") == ["weekend@example.org"]   # Saturday 07:00
    assert who("2026-12-14T13:00") == ["day@example.org"]       # Monday 07:00: the weekend is over
    # Daylight saving: Sunday 2026-03-08 07:00 in Chicago is 12:00 UTC (CDT), no longer 13:00 (CST).
    assert who("2026-03-09T12:00") == ["day@example.org"]       # Monday 07:00 CDT
    assert who("2026-03-09T12:59") == ["day@example.org"]
    assert who("2026-03-02T12:59") == ["weekend@example.org"]   # a week before, 06:59 CST: still Sunday's
    assert on_call_at([Shift("1", "09:00", "10:00", "x@example.org")], datetime(2026, 12, 7, 15, 30),
                      "America/Chicago")[0].recipient == "x@example.org"


@pytest.mark.requirement("URS-NOT-006", "URS-NOT-008")
def test_an_on_call_rule_reaches_whoever_is_on_call_and_a_gap_is_never_silent(duckdb_warehouse, mailbox):
    from queries.notifications import on_call

    wh = duckdb_warehouse
    seed_network(wh)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="on-call"), by="lead", reason="the on-call rota")
    with pytest.raises(ValueError, match="excursion events and the e-mail channel only"):
        rules.add(wh, rules.Rule(event="import_rejected", recipient="on-call"), by="lead", reason="x")
    on_call.add(wh, site_id="CHI", days="1234567", starts="00:00", ends="00:00", recipient="chi-rota@example.org",
                by="lead", reason="round the clock")
    on_call.add(wh, site_id="CHI", days="1234567", starts="00:00", ends="00:00", recipient="chi-backup@example.org",
                by="lead", reason="second on call")
    start = utc_now().replace(microsecond=0)
    action_excursion(wh, start)
    (sent,) = Dispatcher(wh, settings_for(wh, mailbox), clock=Clock(start)).dispatch_due()
    assert sent.outcome == "sent" and "for chi-backup@example.org, chi-rota@example.org" in sent.response
    (mail,) = mailbox.received
    assert mail["X-Envelope-To"] == "chi-backup@example.org, chi-rota@example.org"

    # ATL has no one on call: the message fails, says why, and after three tries is a system alarm.
    action_excursion(wh, start, tag="atl", sensor="ATL-B1-T")
    clock = Clock(start)
    dispatcher = Dispatcher(wh, settings_for(wh, mailbox), clock=clock)
    for minute in (0, 1, 2):
        clock.now = start + timedelta(minutes=minute, seconds=1)
        (failed,) = dispatcher.dispatch_due()
        assert failed.outcome == "failed" and failed.response.startswith("nobody on call at ATL ")
    from notify.alarms import Watchdog

    (alarm,) = Watchdog(wh, settings_for(wh, mailbox), clock).check()
    assert alarm.startswith("delivery_failing/")


@pytest.mark.requirement("URS-NOT-006", "URS-NOT-010")
def test_on_call_shifts_through_the_command_line(tmp_path):
    url = warehouse_file(tmp_path)
    env = {"ATMP_DATABASE_URL": url}
    bad = atmp_hub("notify", "on-call", "add", "--site", "CHI", "--days", "8", "--from", "7:00", "--to", "19:00",
                   "--email", "x@example.org", "--reason", "r", env=env)
    assert bad.returncode == 2 and "days '8'" in bad.stderr and "start '7:00' is not a time HH:MM" in bad.stderr
    added = atmp_hub("notify", "on-call", "add", "--site", "CHI", "--days", "54321", "--from", "07:00", "--to",
                     "19:00", "--email", "day@example.org", "--user", "lead", "--reason", "rota", env=env)
    assert added.returncode == 0, added.stderr
    shift_id = added.stdout.split(":")[0]
    assert f"{shift_id} active   CHI days 12345 07:00-19:00 local: day@example.org" in \
        atmp_hub("notify", "on-call", "list", env=env).stdout
    assert atmp_hub("notify", "on-call", "deactivate", shift_id, "--reason", "rota changed", env=env).returncode == 0
    assert f"{shift_id} inactive" in atmp_hub("notify", "on-call", "list", env=env).stdout
    rule = atmp_hub("notify", "rules", "add", "--event", "excursion_action", "--email", "on-call", "--reason", "r",
                    env=env)
    assert rule.returncode == 0 and "→ email on-call at once" in rule.stdout


@pytest.mark.requirement("URS-NOT-004")
def test_mail_goes_over_starttls_or_tls_with_a_login_and_a_refused_login_is_recorded(duckdb_warehouse, tmp_path,
                                                                                     monkeypatch):
    """ATMP_SMTP_URL's TLS and login against a real server that requires them: STARTTLS with a login, TLS
    from the start (smtps://), the server's certificate verified (trusted here through SSL_CERT_FILE), and a
    wrong password a failed attempt with the server's answer."""
    import ssl

    from aiosmtpd.smtp import AuthResult
    from receivers import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the client trusts this server's certificate, and only so
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"hub" and auth_data.password == b"s3cret pass"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    wh = duckdb_warehouse
    seed_network(wh)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org"), by="lead", reason="x")
    start = utc_now().replace(microsecond=0)
    action_excursion(wh, start)
    starttls = Mailbox(free_port(), controller_options={
        "tls_context": server_tls, "require_starttls": True, "authenticator": authenticator,
        "auth_require_tls": True}).start()
    try:
        url = f"smtp://hub:wrong@127.0.0.1:{starttls.port}?starttls=true"
        (refused,) = Dispatcher(wh, settings_for(wh, None, smtp_url=url), clock=Clock(start)).dispatch_due()
        assert refused.outcome == "failed" and "SMTPAuthenticationError" in refused.response and "535" in refused.response
        url = f"smtp://hub:s3cret%20pass@127.0.0.1:{starttls.port}?starttls=true"
        (sent,) = Dispatcher(wh, settings_for(wh, None, smtp_url=url),
                             clock=Clock(start + timedelta(minutes=1))).dispatch_due()
        assert sent.outcome == "sent", sent.response
        assert len(starttls.received) == 1
    finally:
        starttls.stop()

    implicit = Mailbox(free_port(), controller_options={"ssl_context": server_tls}).start()
    try:
        action_excursion(wh, start + timedelta(minutes=10), tag="second")  # a new excursion, a new message
        url = f"smtps://127.0.0.1:{implicit.port}"
        results = Dispatcher(wh, settings_for(wh, None, smtp_url=url),
                             clock=Clock(start + timedelta(minutes=20))).dispatch_due()
        # The second excursion's message, and the news that the first one ended (its readings came back).
        assert [r.outcome for r in results] == ["sent", "sent"]
        assert all("smtps://127.0.0.1" in r.response for r in results)
        assert sorted(subject(m).split(":")[0] for m in implicit.received) == [
            "[ATMP Hub] ACTION excursion", "[ATMP Hub] CLEARED"]
    finally:
        implicit.stop()


@pytest.mark.requirement("URS-NOT-007")
def test_rules_for_site_managers_and_leadership_reach_their_addresses(tmp_path, mailbox):
    """Recipient 'site-managers': the addresses of the site's active site managers when the message goes
    out (`atmp-hub users set-email`, audited); a site whose managers have none fails and says so.
    Recipient 'leadership' (step 3 of the issue's example path): every active quality leader's address."""
    url = warehouse_file(tmp_path, rules.Rule(event="excursion_action", recipient="site-managers"),
                         rules.Rule(event="excursion_action", recipient="leadership", site_id="CHI", delay_s=3600),
                         with_users=True)
    env = {"ATMP_DATABASE_URL": url}
    done = atmp_hub("users", "set-email", "mgr.chi", "chi.manager@example.org", "--reason", "notifications", env=env)
    assert done.returncode == 0 and "notifications to chi.manager@example.org" in done.stdout
    refused = atmp_hub("users", "set-email", "mgr.chi", "not an address", "--reason", "x", env=env)
    assert refused.returncode == 2 and "is not one e-mail address" in refused.stderr
    wh = Warehouse(url)
    try:
        start = utc_now().replace(microsecond=0)
        action_excursion(wh, start)
        action_excursion(wh, start, tag="atl", sensor="ATL-B1-T")
        results = {r.response.split(":")[0]: r for r in
                   Dispatcher(wh, settings_for(wh, mailbox), clock=Clock(start)).dispatch_due()}
        (mail,) = mailbox.received
        assert mail["X-Envelope-To"] == "chi.manager@example.org"
        (atl,) = [r for r in results.values() if r.outcome == "failed"]
        assert atl.response == ("no active site manager of ATL has an e-mail address (the Users page, or atmp-hub "
                                "users set-email)")
        later = Dispatcher(wh, settings_for(wh, mailbox), clock=Clock(start + timedelta(hours=2)))
        (no_leader,) = [r for r in later.dispatch_due() if "quality leader" in r.response]
        assert no_leader.outcome == "failed"
        users.set_email(wh, "lead", email="qa.lead@example.org", changed_by="t", reason="rota")
        later.clock = Clock(start + timedelta(hours=3))
        assert [r.outcome for r in later.dispatch_due() if "qa.lead" in r.response] == ["sent"]
        assert mailbox.received[-1]["X-Envelope-To"] == "qa.lead@example.org"
    finally:
        wh.dispose()


@pytest.mark.requirement("URS-NOT-003")
def test_those_told_of_an_excursion_hear_when_it_ends(duckdb_warehouse, mailbox):
    wh = duckdb_warehouse
    seed_network(wh)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall@example.org", site_id="CHI"),
              by="lead", reason="x")
    start = utc_now().replace(microsecond=0)
    writer = IngestWriter(wh, clock=lambda: start, public_url="https://hub.example.org")
    above = ramp("CHI-B1-T", "degC", [21.0] * 3 + [22.6] * 12, start=start - timedelta(minutes=4), step_s=10, tag="up")
    writer.write([Message(t, p, start) for t, p in above])
    dispatcher = Dispatcher(wh, settings_for(wh, mailbox), clock=Clock(start))
    assert [r.outcome for r in dispatcher.dispatch_due()] == ["sent"]
    back = ramp("CHI-B1-T", "degC", [21.0] * 3, start=start - timedelta(minutes=1) + timedelta(seconds=5), step_s=10,
                tag="down")
    writer.write([Message(t, p, start) for t, p in back])
    assert [r.outcome for r in dispatcher.dispatch_due()] == ["sent"]
    excursion_id = rows(wh, "SELECT excursion_id FROM excursions WHERE level = 'action'")[0][0]
    cleared = subject(mailbox.received[-1])
    assert cleared == (f"[ATMP Hub] CLEARED: excursion {excursion_id} (CHI), temperature back within the action "
                       "limit")
    assert "It still needs acknowledging" in mailbox.received[-1].get_payload(decode=True).decode()
    assert rows(wh, "SELECT ended_at IS NOT NULL FROM excursions WHERE excursion_id = :e", e=excursion_id) == [(True,)]
