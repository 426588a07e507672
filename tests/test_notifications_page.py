"""The Notifications page through crafted callbacks on a copy of the sample network: leadership and
administrators add and switch off rules (signed, audited) and queue a test message, which the dispatcher
then mails to a real SMTP server; a wrong signature is refused and audited; auditors read; site managers
and displays get 403 whatever they send; the actor is always the session's user."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_PASSWORD, dash_call, login
from export_helpers import copied_app
from live_support import free_port
from receivers import Mailbox
from sqlalchemy import text

from dashboard import ids
from notify.dispatcher import Dispatcher
from queries.engine.settings import Settings

ADD = [ids.NOT_ADD_RESULT, ids.NOT_ADD_SIGNATURE, ids.NOT_ADD_DONE, ids.NOT_ADD_REASON]
OFF = [ids.NOT_OFF_RESULT, ids.NOT_OFF_SIGNATURE, ids.NOT_OFF_DONE, ids.NOT_OFF_REASON]
LISTS = [ids.NOT_ALARMS, ids.NOT_OPEN, ids.NOT_FAILURES, ids.NOT_HISTORY]


@pytest.fixture(scope="module")
def page_app(sample_warehouse, tmp_path_factory):
    with copied_app(sample_warehouse, tmp_path_factory.mktemp("notifications")) as (app, wh):
        yield app, wh


def rows(wh, sql: str, **params) -> list:
    with wh.engine.connect() as conn:
        return conn.execute(text(sql), params).fetchall()


def client_of(app, user_id: str):
    client = app.server.test_client()
    assert login(client, user_id).status_code == 302, user_id
    return client


def add(client, app, password=TEST_PASSWORD, **fields):
    form = {"event": "excursion_action", "channel": "email", "recipient": "qa@example.org", "site": "CHI",
            "room": "", "parameter": "*", "delay": 0, "every": 10, "repeats": 2, "reason": "on-call QA at CHI",
            **fields}
    state = {f"{ids.NOT_ADD_EVENT}.value": form["event"], f"{ids.NOT_ADD_CHANNEL}.value": form["channel"],
             f"{ids.NOT_ADD_RECIPIENT}.value": form["recipient"], f"{ids.NOT_ADD_SITE}.value": form["site"],
             f"{ids.NOT_ADD_ROOM}.value": form["room"], f"{ids.NOT_ADD_PARAMETER}.value": form["parameter"],
             f"{ids.NOT_ADD_DELAY}.value": form["delay"], f"{ids.NOT_ADD_EVERY}.value": form["every"],
             f"{ids.NOT_ADD_REPEATS}.value": form["repeats"], f"{ids.NOT_ADD_REASON}.value": form["reason"],
             f"{ids.NOT_ADD_SIGNATURE}.value": password, f"{ids.NOT_ADD_DONE}.data": 0}
    return dash_call(client, app, ADD, {f"{ids.NOT_ADD_SUBMIT}.n_clicks": 1}, state)


def text_of(response) -> str:
    return json.dumps(response.get_json())


@pytest.mark.requirement("URS-NOT-010")
def test_leadership_adds_a_rule_signed_and_a_wrong_signature_adds_nothing(page_app):
    app, wh = page_app
    client = client_of(app, "t.leader")
    before = rows(wh, "SELECT COUNT(*) FROM notification_rules")[0][0]
    refused = add(client, app, password="not the password")
    assert refused.status_code == 200 and "Signature failed" in text_of(refused)
    assert rows(wh, "SELECT COUNT(*) FROM notification_rules")[0][0] == before
    assert rows(wh, "SELECT COUNT(*) FROM audit_log WHERE action = 'esignature_failed' AND user_id = 't.leader' "
                    "AND object_type = 'notification_rule'")[0][0] >= 1
    bad = add(client, app, recipient="not an address", delay="ten", site="ZZZ")
    assert "The delay must be a whole number" in text_of(bad)

    done = add(client, app)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "excursion_action (site CHI) \\u2192 email qa@example.org at once, then every 10 min up to 2 more" \
        in text_of(done)
    (rule,) = rows(wh, "SELECT rule_id, created_by, repeat_every_s FROM notification_rules WHERE recipient = "
                       "'qa@example.org'")
    assert rule[1:] == ("t.leader", 600)  # the session's user; minutes on the page, seconds stored
    (entry,) = rows(wh, "SELECT user_id, reason FROM audit_log WHERE action = 'notification_rule_added' AND "
                        "object_id = :r", r=rule[0])
    assert entry == ("t.leader", "on-call QA at CHI")


@pytest.mark.requirement("URS-NOT-010")
@pytest.mark.requirement("URS-ACC-004")
def test_only_leadership_and_administrators_change_rules_and_auditors_read(page_app):
    app, wh = page_app
    for user_id in ("t.manager.chi", "t.display"):
        client = client_of(app, user_id)
        assert add(client, app).status_code == 403
        assert dash_call(client, app, LISTS, {f"{ids.NOT_REFRESH}.n_intervals": 1}).status_code == 403
    auditor = client_of(app, "t.auditor")
    assert dash_call(auditor, app, LISTS, {f"{ids.NOT_REFRESH}.n_intervals": 1}).status_code == 200
    assert add(auditor, app).status_code == 403
    assert rows(wh, "SELECT COUNT(*) FROM audit_log WHERE action = 'notification_change_refused' AND "
                    "user_id = 't.auditor'")[0][0] >= 1
    admin = client_of(app, "t.admin")
    assert "added" in text_of(add(admin, app, recipient="admin-added@example.org", site="*"))


@pytest.mark.requirement("URS-NOT-010")
def test_a_rule_switched_off_and_a_test_message_mailed(page_app):
    app, wh = page_app
    client = client_of(app, "t.leader")
    add(client, app, recipient="to-test@example.org")
    (rule_id,) = rows(wh, "SELECT rule_id FROM notification_rules WHERE recipient = 'to-test@example.org'")[0]
    queued = dash_call(client, app, [ids.NOT_TEST_RESULT], {f"{ids.NOT_TEST_SUBMIT}.n_clicks": 1},
                       {f"{ids.NOT_TEST_RULE}.value": rule_id})
    assert "A test message to to-test@example.org is queued" in text_of(queued)
    mailbox = Mailbox(free_port()).start()
    try:
        settings = Settings.from_env({}, database_url=wh.url, secret_key="x", smtp_url=mailbox.url)
        results = Dispatcher(wh, settings).dispatch_due()  # (the shared sample may hold other tests' messages)
        assert results and {r.outcome for r in results} == {"sent"}
        (mail,) = [m for m in mailbox.received if m["X-Envelope-To"] == "to-test@example.org"]
        assert mail["Subject"] == f"[ATMP Hub] test message for rule {rule_id}"
        assert "sent at the request of t.leader" in mail.get_payload(decode=True).decode()
    finally:
        mailbox.stop()
    lists = text_of(dash_call(client, app, LISTS, {f"{ids.NOT_REFRESH}.n_intervals": 1}))
    assert f"test message for rule {rule_id}" in lists and "accepted it for to-test@example.org: 250" in lists

    state = {f"{ids.NOT_OFF_RULE}.value": rule_id, f"{ids.NOT_OFF_REASON}.value": "left the team",
             f"{ids.NOT_OFF_SIGNATURE}.value": TEST_PASSWORD, f"{ids.NOT_OFF_DONE}.data": 0}
    off = dash_call(client, app, OFF, {f"{ids.NOT_OFF_SUBMIT}.n_clicks": 1}, state)
    assert f"Rule {rule_id} switched off" in text_of(off)
    assert rows(wh, "SELECT active FROM notification_rules WHERE rule_id = :r", r=rule_id) == [(False,)]
    again = dash_call(client, app, OFF, {f"{ids.NOT_OFF_SUBMIT}.n_clicks": 1}, state)
    assert "Choose an active rule" in text_of(again)


SHIFT = [ids.NOT_SHIFT_RESULT, ids.NOT_SHIFT_SIGNATURE, ids.NOT_SHIFT_DONE, ids.NOT_SHIFT_REASON]
SHIFT_OFF = [ids.NOT_SHIFT_OFF_RESULT, ids.NOT_SHIFT_OFF_SIGNATURE, ids.NOT_SHIFT_OFF_DONE, ids.NOT_SHIFT_OFF_REASON]


@pytest.mark.requirement("URS-NOT-010")
def test_on_call_shifts_are_kept_on_the_page_signed(page_app):
    app, wh = page_app

    def add_shift(client, days, starts="19:00", ends="07:00", password=TEST_PASSWORD):
        return dash_call(client, app, SHIFT, {f"{ids.NOT_SHIFT_SUBMIT}.n_clicks": 1}, {
            f"{ids.NOT_SHIFT_SITE}.value": "CHI", f"{ids.NOT_SHIFT_DAYS}.value": days,
            f"{ids.NOT_SHIFT_FROM}.value": starts, f"{ids.NOT_SHIFT_TO}.value": ends,
            f"{ids.NOT_SHIFT_EMAIL}.value": "nights.chi@example.org", f"{ids.NOT_SHIFT_REASON}.value": "night rota",
            f"{ids.NOT_SHIFT_SIGNATURE}.value": password, f"{ids.NOT_SHIFT_DONE}.data": 0})
    assert add_shift(client_of(app, "t.manager.chi"), ["1"]).status_code == 403
    leader = client_of(app, "t.leader")
    assert "Days '': the weekdays" in text_of(add_shift(leader, []))
    assert "Start '25:00' is not a time" in text_of(add_shift(leader, ["1"], starts="25:00"))
    assert "Signature failed" in text_of(add_shift(leader, ["1"], password="wrong"))
    done = text_of(add_shift(leader, ["5", "1", "2", "3", "4"]))
    assert "added. Signature recorded" in done
    (shift,) = rows(wh, "SELECT shift_id, days, starts, ends, created_by FROM on_call_shifts WHERE active "
                        "AND recipient = 'nights.chi@example.org'")
    assert shift[1:] == ("12345", "19:00", "07:00", "t.leader")
    listed = text_of(dash_call(leader, app, [ids.NOT_SHIFTS_HOST, ids.NOT_SHIFT_OFF],
                               {f"{ids.NOT_SHIFT_DONE}.data": 1}))
    assert "Mon Tue Wed Thu Fri" in listed and "19:00\\u201307:00 (next day)" in listed
    off = dash_call(leader, app, SHIFT_OFF, {f"{ids.NOT_SHIFT_OFF_SUBMIT}.n_clicks": 1}, {
        f"{ids.NOT_SHIFT_OFF}.value": shift[0], f"{ids.NOT_SHIFT_OFF_REASON}.value": "rota changed",
        f"{ids.NOT_SHIFT_OFF_SIGNATURE}.value": TEST_PASSWORD, f"{ids.NOT_SHIFT_OFF_DONE}.data": 0})
    assert f"Shift {shift[0]} switched off" in text_of(off)
    assert [r[0] for r in rows(wh, "SELECT action FROM audit_log WHERE object_id = :s ORDER BY entry_id",
                               s=shift[0])] == ["on_call_shift_added", "on_call_shift_deactivated"]
