"""Remote acknowledgement through the link an excursion's e-mail carries (/ack/<token>): the message is
really mailed (aiosmtpd on loopback) and the link taken from it; opened through the app's page router
and its callback as the browser would. Single use, expiry, a wrong signature, another site's manager and
a role that may not acknowledge are refused on the server and audited; acknowledging stops the escalation."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from conftest import app_for, dash_call, login
from live_support import PASSWORD, free_port, ramp, seed_network, utc_now
from receivers import Mailbox
from sqlalchemy import text

from dashboard import ids
from ingest.writer import IngestWriter, Message
from notify.dispatcher import Dispatcher
from queries.engine.settings import Settings
from queries.notifications import rules

ACK = [ids.ACKL_RESULT, ids.ACKL_PASSWORD]
LINK = re.compile(r"https://hub\.example\.org/ack/(\S+)")


def rows(wh, sql: str, **params) -> list:
    with wh.engine.connect() as conn:
        return conn.execute(text(sql), params).fetchall()


@pytest.fixture(scope="module")
def mailed(tmp_path_factory):
    """A CHI action excursion whose escalation (the on-call now, reminders every 10 min) mailed its first
    message; the app over the same warehouse, and the link taken from the mail."""
    from queries.engine.warehouse import Warehouse

    wh = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('ack') / 'hub.duckdb'}")
    wh.create_schema()
    seed_network(wh, with_users=True)
    rules.add(wh, rules.Rule(event="excursion_action", recipient="oncall.chi@example.org", site_id="CHI",
                             repeat_every_s=600, repeat_max=3), by="lead", reason="on-call")
    now = utc_now().replace(microsecond=0)
    pairs = ramp("CHI-B1-T", "degC", [21.0] * 3 + [22.6] * 37, start=now - timedelta(minutes=7), step_s=10, tag="a")
    IngestWriter(wh, clock=lambda: now).write([Message(t, p, now) for t, p in pairs])
    box = Mailbox(free_port()).start()
    settings = Settings.from_env({}, database_url=wh.url, secret_key="x", smtp_url=box.url,
                                 public_url="https://hub.example.org")
    try:
        Dispatcher(wh, settings).dispatch_due()
    finally:
        box.stop()
    (mail,) = box.received
    body = mail.get_payload(decode=True).decode()
    app = app_for(wh, simulator=False, login_rate_per_user="100 per minute")
    yield app, wh, settings, LINK.search(body).group(1), body
    wh.dispose()


def client_of(app, user_id: str):
    client = app.server.test_client()
    assert login(client, user_id, PASSWORD).status_code == 302
    return client


def open_page(client, app, token: str) -> str:
    response = dash_call(client, app, ["_pages_content", "_pages_store"],
                         {"_pages_location.pathname": f"/ack/{token}", "_pages_location.search": ""})
    assert response.status_code == 200
    return json.dumps(response.get_json())


def sign(client, app, token, password=PASSWORD, comment="door seal checked; room back in limits"):
    response = dash_call(client, app, ACK, {f"{ids.ACKL_SUBMIT}.n_clicks": 1}, {
        f"{ids.ACKL_TOKEN}.data": token, f"{ids.ACKL_COMMENT}.value": comment,
        f"{ids.ACKL_DEVIATION}.value": "keep", f"{ids.ACKL_PASSWORD}.value": password})
    return response.status_code, json.dumps(response.get_json()) if response.status_code == 200 else ""


@pytest.mark.requirement("URS-SIG-009")
def test_the_mail_carries_a_single_use_link_and_no_token_is_stored(mailed):
    app, wh, _settings, token, body = mailed
    assert "this link works once, for 24 hours" in body
    assert len(token) >= 30
    stored = rows(wh, "SELECT body FROM notification_outbox") + rows(wh, "SELECT token_hash FROM ack_links")
    assert stored and not any(token in str(r[0]) for r in stored)  # the token exists only in the message


@pytest.mark.requirement("URS-NOT-003")
@pytest.mark.requirement("URS-SIG-009", "URS-SIG-001", "URS-SIG-003", "URS-ACC-004")
def test_only_the_right_signer_uses_the_link_once_and_the_escalation_stops(mailed):
    app, wh, _settings, token, _ = mailed
    excursion_id = rows(wh, "SELECT event_id FROM notification_outbox LIMIT 1")[0][0]
    other_site = client_of(app, "mgr.atl")
    assert "not one you may acknowledge" in open_page(other_site, app, token)
    assert "Excursion not found" in sign(other_site, app, token)[1]
    auditor = client_of(app, "audit")
    assert "page-denied" in open_page(auditor, app, token)
    assert sign(auditor, app, token)[0] == 403

    manager = client_of(app, "mgr.chi")
    page = open_page(manager, app, token)
    assert f"Acknowledge excursion {excursion_id}" in page and "oncall.chi@example.org" in page
    assert "Signature failed" in sign(manager, app, token, password="wrong password")[1]
    status, done = sign(manager, app, token)
    assert status == 200 and f"{excursion_id} acknowledged by mgr.chi" in done
    assert rows(wh, "SELECT acknowledged_by FROM excursions WHERE excursion_id = :e", e=excursion_id) == [("mgr.chi",)]
    assert rows(wh, "SELECT used_by FROM ack_links") == [("mgr.chi",)]
    assert "used already, by mgr.chi" in sign(manager, app, token)[1]
    assert "used already, by mgr.chi" in open_page(client_of(app, "lead"), app, token)
    assert "not valid" in open_page(manager, app, "x" * 40)

    box = Mailbox(free_port()).start()
    try:
        later = Dispatcher(wh, Settings.from_env({}, database_url=wh.url, secret_key="x", smtp_url=box.url),
                           clock=lambda: utc_now() + timedelta(hours=1))
        results = later.dispatch_due()
    finally:
        box.stop()
    assert sorted(r.outcome for r in results) == ["cancelled"] * 3 + ["sent"]  # the reminders; the news
    (news,) = box.received
    assert news["X-Envelope-To"] == "oncall.chi@example.org" and "ACKNOWLEDGED" in news["Subject"]
    assert "door seal checked; room back in limits" in news.get_payload(decode=True).decode()
    refused = rows(wh, "SELECT user_id, reason FROM audit_log WHERE action = 'ack_link_refused' ORDER BY entry_id")
    assert ("mgr.atl", "excursion outside the user's scope") in refused
    assert refused.count(("audit", "role auditor may not acknowledge excursions")) == 2  # the page, the signature
    assert any(user == "mgr.chi" and reason.startswith("This link was used already") for user, reason in refused)
    assert any(user == "mgr.chi" and reason == "This link is not valid." for user, reason in refused)
    assert rows(wh, "SELECT COUNT(*) FROM audit_log WHERE action = 'excursion_ack_refused' AND user_id = 'mgr.atl'")[0][0] >= 1


@pytest.mark.requirement("URS-SIG-009")
def test_an_expired_link_is_refused(mailed):
    _app, wh, settings, _token, _ = mailed
    from queries.notifications import ack_links

    fresh = ack_links.issue(wh, excursion_id="EXC-x", notification_id="N-x", recipient="a@example.org",
                            now=utc_now(), hours=1)
    later = app_for(wh, simulator=False, now=(utc_now() + timedelta(hours=2)).isoformat())
    assert "This link expired at" in open_page(client_of(later, "lead"), later, fresh)
    assert "This link expired at" in sign(client_of(later, "lead"), later, fresh)[1]


@pytest.mark.requirement("URS-SIG-009")
def test_a_link_sent_to_a_users_address_is_that_users_alone(mailed):
    """An address that belongs to a user binds the link to that user: anyone else who may acknowledge is
    refused (audited); an address of no user (the shared on-call mailbox above) binds to no one."""
    from queries.notifications import ack_links
    from queries.records import users

    app, wh, _settings, _token, _ = mailed
    users.set_email(wh, "mgr.chi", email="Mgr.Chi@example.org", changed_by="lead", reason="notifications")
    excursion_id = rows(wh, "SELECT event_id FROM notification_outbox LIMIT 1")[0][0]
    token = ack_links.issue(wh, excursion_id=excursion_id, notification_id="N-x", recipient="mgr.chi@example.org",
                            now=utc_now(), hours=1)
    leader = client_of(app, "lead")
    page = open_page(leader, app, token)
    assert "This link was sent to mgr.chi@example.org, not to you: only mgr.chi may use it." in page
    assert "only mgr.chi may use it" in sign(leader, app, token)[1]
    assert rows(wh, "SELECT COUNT(*) FROM audit_log WHERE action = 'ack_link_refused' AND user_id = 'lead' AND "
                    "reason LIKE '%not to you%'")[0][0] == 2
    assert rows(wh, "SELECT new_value FROM audit_log WHERE action = 'user_email_changed'") == [
        ("email=Mgr.Chi@example.org",)]
