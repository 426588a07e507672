"""Queueing notifications: called inside the transaction that records the event, so the event and its
messages commit together or not at all (a transactional outbox). Nothing is sent here; the dispatcher
(notify/dispatcher.py) sends what is due.

Each matching rule queues its first message at event time + delay_s and, for excursions, one more every
repeat_every_s up to repeat_max times. The dispatcher cancels any of them still due once the excursion
has been acknowledged, so an escalation path is a set of rules with growing delays: step 1 the on-call
address at 1 min, step 2 the site manager at 20 min, step 3 leadership at 60 min.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from queries.engine.warehouse import Warehouse

EXCURSION_EVENTS = {"action": "excursion_action", "alert": "excursion_alert"}
IMPORT_REJECTED = "import_rejected"
ACKNOWLEDGED = "excursion_acknowledged"  # told to those already sent the excursion's message
CLEARED = "excursion_cleared"  # likewise, when the excursion ends (back within the limit)
TEST = "test"  # a test message asked for on the Notifications page (never matched by a rule)
EVENTS = (*EXCURSION_EVENTS.values(), IMPORT_REJECTED)
SUBJECT_PREFIX = "[ATMP Hub]"
EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+|[^@\s,;<>]+@localhost")  # one address
ON_CALL = "on-call"  # a rule's recipient meaning whoever is on call at the event's site then (on_call.py)
SITE_MANAGERS = "site-managers"  # a rule's recipient meaning the site managers of the event's site (their e-mail)
LEADERSHIP = "leadership"  # a rule's recipient meaning every active quality leader (their e-mail)


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def notification_id(event: str, event_id: str, rule_id: str, repeat_no: int) -> str:
    """Stable for one event, rule and repeat: queueing it again adds nothing, and a message sent twice
    (a dispatcher killed between the server's acceptance and its own record) carries the same id."""
    digest = hashlib.sha256(f"{event}\x1f{event_id}\x1f{rule_id}\x1f{repeat_no}".encode()).hexdigest()
    return f"N-{digest[:20]}"


def matching_rules(wh: Warehouse, conn, event: str, site_id: str | None, room_id: str | None = None,
                   parameter: str | None = None) -> list[dict]:
    """The active rules an event matches (the room's grade is read with them)."""
    return wh.fetch(conn, "notifications/rules_for_event", {
        "event": event, "site_id": site_id, "room_id": room_id, "parameter": parameter}).to_dict("records")


def queue(wh: Warehouse, conn, rules: list[dict], *, event: str, event_id: str, site_id: str | None,
          at: datetime, message: Message) -> int:
    """Queue the messages of the rules the event matched; returns how many rows were queued."""
    rows = []
    for rule in rules:
        repeats = int(rule["repeat_max"]) if event in EXCURSION_EVENTS.values() and rule["repeat_every_s"] else 0
        for n in range(repeats + 1):
            due = at + timedelta(seconds=int(rule["delay_s"]) + n * int(rule["repeat_every_s"]))
            subject = message.subject if n == 0 else f"{message.subject} (reminder {n}: not acknowledged)"
            rows.append({"notification_id": notification_id(event, event_id, rule["rule_id"], n), "event": event,
                         "event_id": event_id, "site_id": site_id, "rule_id": rule["rule_id"], "repeat_no": n,
                         "channel": rule["channel"], "recipient": rule["recipient"], "subject": subject,
                         "body": message.body, "created_at": at, "due_at": due})
    wh.execute(conn, "notifications/outbox_insert", rows)
    return len(rows)


def _clock_text(ts: datetime, timezone: str) -> str:
    local = ts.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({ts:%Y-%m-%d %H:%M:%S} UTC)"


def excursion_message(record, context: dict, public_url: str, *, simulated: bool) -> Message:
    """The text of a new excursion's message: site, room, sensor, parameter, value, limit, start in the
    site's local time and UTC, and the link to its record (where it is acknowledged)."""
    side = record.side or ("high" if context.get(f"{record.level}_high") is not None
                           and record.peak > context[f"{record.level}_high"] else "low")
    limit = context.get(f"{record.level}_{side}")
    unit = context.get("unit") or ""
    relation = ">" if side == "high" else "<"
    limit_text = f"{record.level} limit {relation} {limit:g} {unit}".rstrip() if limit is not None else \
        f"{record.level} limit (not on record)"
    tag = " [SIMULATED]" if simulated else ""
    subject = (f"{SUBJECT_PREFIX}{tag} {record.level.upper()} excursion: {record.parameter} in "
               f"{record.room_id} ({record.site_id}), {record.peak:g} {unit}".rstrip())
    link = f"{public_url.rstrip('/')}/excursion/{record.excursion_id}"
    lines = [
        f"{'Simulated (demo simulator) ' if simulated else ''}{record.level}-level excursion {record.excursion_id}",
        "",
        f"Site:       {record.site_id} {context.get('site_name', '')}".rstrip(),
        f"Room:       {record.room_id} {context.get('room_name', '')} (grade {context.get('grade', '?')})",
        f"Sensor:     {record.sensor_id}",
        f"Parameter:  {record.parameter}",
        f"Value:      {record.peak:g} {unit} (the worst so far)".replace("  (", " ("),
        f"Limit:      {limit_text}",
        f"Started:    {_clock_text(record.started_at, context.get('timezone') or 'UTC')}",
        f"Detected:   {_clock_text(record.detected_at, context.get('timezone') or 'UTC')}",
        "",
        f"Its record: {link}",
        f"Acknowledge it on the site's monitoring page: {public_url.rstrip('/')}/monitoring/{record.site_id}",
    ]
    if record.deviation_id:
        lines.insert(-3, f"Proposed deviation: {record.deviation_id} (provisional until QA review)")
    return Message(subject, "\n".join(lines) + "\n")


def queue_excursion(wh: Warehouse, conn, record, *, public_url: str, simulated: bool) -> int:
    """Queue the messages a new excursion calls for (in the transaction that inserts it)."""
    event = EXCURSION_EVENTS[record.level]
    rules = matching_rules(wh, conn, event, record.site_id, record.room_id, record.parameter)
    if not rules:  # the common case: no context query in the ingest transaction
        return 0
    found = wh.fetch(conn, "notifications/excursion_context", {"sensor_id": record.sensor_id})
    context = {k: (None if v != v else v) for k, v in found.iloc[0].items()} if not found.empty else {}
    message = excursion_message(record, context, public_url, simulated=simulated)
    return queue(wh, conn, rules, event=event, event_id=record.excursion_id, site_id=record.site_id,
                 at=record.detected_at, message=message)


def queue_import_rejected(wh: Warehouse, conn, *, file_name: str, table: str, sha: str, problems: list[str],
                          at: datetime, report: str) -> int:
    """Queue the messages a drop-folder file refused calls for (in the transaction of its audit entry)."""
    rules = matching_rules(wh, conn, IMPORT_REJECTED, None)
    if not rules:
        return 0
    shown = problems[:20]
    more = f"\n... and {len(problems) - len(shown)} more (all in the report)" if len(problems) > len(shown) else ""
    body = (f"The drop folder refused {file_name} for {table}: nothing was written.\n\n"
            f"SHA-256: {sha}\nReport:  {report} (numbered if that name was taken)\n\n{len(problems)} problem(s):\n"
            + "\n".join(f"- {p}" for p in shown) + more + "\n")
    subject = f"{SUBJECT_PREFIX} import refused: {file_name} ({table}), {len(problems)} problem(s)"
    # The event id holds the hash: the same name dropped again with other content is another event.
    return queue(wh, conn, rules, event=IMPORT_REJECTED, event_id=f"{table}/{file_name}/{sha[:16]}", site_id=None,
                 at=at, message=Message(subject, body))


def _tell_notified(wh: Warehouse, conn, *, event: str, excursion_id: str, site_id: str, at: datetime,
                   message: Message) -> int:
    """Queue a follow-up to everyone already sent a message about the excursion (in the caller's transaction)."""
    notified = wh.fetch(conn, "notifications/notified_for_event", {"event_id": excursion_id}).to_dict("records")
    rules = [{**r, "delay_s": 0, "repeat_every_s": 0, "repeat_max": 0} for r in notified]
    return queue(wh, conn, rules, event=event, event_id=excursion_id, site_id=site_id, at=at, message=message)


def queue_acknowledged(wh: Warehouse, conn, *, excursion_id: str, site_id: str, by: str, comment: str,
                       at: datetime, public_url: str) -> int:
    """Tell everyone already notified that the excursion was acknowledged; the dispatcher cancels the rest of
    its escalation."""
    subject = f"{SUBJECT_PREFIX} ACKNOWLEDGED: excursion {excursion_id} ({site_id}) by {by}"
    body = (f"Excursion {excursion_id} at {site_id} was acknowledged by {by} at {at:%Y-%m-%d %H:%M:%S} UTC, with "
            f"the comment:\n\n{comment}\n\nReminders and later escalation steps are cancelled.\n"
            f"Its record: {public_url.rstrip('/')}/excursion/{excursion_id}\n")
    return _tell_notified(wh, conn, event=ACKNOWLEDGED, excursion_id=excursion_id, site_id=site_id, at=at,
                          message=Message(subject, body))


def queue_cleared(wh: Warehouse, conn, record, *, at: datetime, public_url: str) -> int:
    """Tell everyone already notified that the excursion ended (in the ingest transaction that ends it). It
    still needs acknowledging: its escalation goes on until then."""
    subject = (f"{SUBJECT_PREFIX} CLEARED: excursion {record.excursion_id} ({record.site_id}), {record.parameter} "
               f"back within the {record.level} limit")
    body = (f"Excursion {record.excursion_id} ({record.level} level, {record.parameter} in {record.room_id}) ended "
            f"at {record.ended_at:%Y-%m-%d %H:%M:%S} UTC; worst value {record.peak:g}. It still needs "
            f"acknowledging: {public_url.rstrip('/')}/monitoring/{record.site_id}\n")
    return _tell_notified(wh, conn, event=CLEARED, excursion_id=record.excursion_id, site_id=record.site_id, at=at,
                          message=Message(subject, body))
