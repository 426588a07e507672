"""Notification rules: added and switched off (never edited in place, so the audit trail tells which rule
said what when), each change in the audit trail with who made it.

From the Notifications page a change is signed (`signed_add`, `signed_deactivate`): who acts is the id the
web layer took from the session, read again here (an active user of an editing role); every other value
came from the browser and is checked as such; the password is re-entered (queries/records/esignature.py).
Refusals of a role or of a rule that does not exist are audited; plain input mistakes are only shown."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pandas as pd

from queries.engine.warehouse import Warehouse
from queries.notifications import on_call
from queries.notifications.outbox import (
    EMAIL,
    EVENTS,
    EXCURSION_EVENTS,
    LEADERSHIP,
    ON_CALL,
    SITE_MANAGERS,
    SUBJECT_PREFIX,
    TEST,
    Message,
    queue,
)
from queries.records import audit, esignature, users
from queries.records.administration import NotAdmin, Refused

CHANNELS = ("email", "webhook")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
GRADES = ("A", "B", "C", "D", "CNC")
PARAMETERS = ("temperature", "humidity", "diff_pressure", "particles_0_5", "particles_5_0")
MAX_DELAY_S = 7 * 24 * 3600
MAX_REPEATS = 50


@dataclass(frozen=True)
class Rule:
    event: str
    recipient: str
    channel: str = "email"
    site_id: str | None = None
    room_id: str | None = None
    grade: str | None = None
    parameter: str | None = None
    delay_s: int = 0
    repeat_every_s: int = 0
    repeat_max: int = 0

    def problems(self) -> list[str]:
        found = []
        if self.event not in EVENTS:
            found.append(f"event {self.event!r} is not one of {', '.join(EVENTS)}")
        if self.channel not in CHANNELS:
            found.append(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")
        if self.recipient in (ON_CALL, SITE_MANAGERS):
            if self.channel != "email" or self.event not in EXCURSION_EVENTS.values():
                found.append(f"'{self.recipient}' reaches people at an excursion's site by e-mail: "
                             "excursion events and the e-mail channel only")
        elif self.recipient == LEADERSHIP:
            if self.channel != "email":
                found.append("'leadership' reaches the quality leaders by e-mail: the e-mail channel only")
        elif self.channel == "email" and not EMAIL.fullmatch(self.recipient or ""):
            found.append(f"recipient {self.recipient!r} is not one e-mail address (or 'on-call', 'site-managers', 'leadership')")
        if self.channel == "webhook" and not _webhook_url(self.recipient or ""):
            found.append(f"webhook {self.recipient!r} is not an https:// URL (http:// only to this host)")
        if self.grade is not None and self.grade not in GRADES:
            found.append(f"grade {self.grade!r} is not one of {', '.join(GRADES)}")
        if self.parameter is not None and self.parameter not in PARAMETERS:
            found.append(f"parameter {self.parameter!r} is not one of {', '.join(PARAMETERS)}")
        if self.event not in EXCURSION_EVENTS.values():
            if self.room_id or self.parameter or self.site_id or self.grade:
                found.append("an import rejection has no site, room, grade or parameter: leave them empty")
            if self.repeat_max:
                found.append("only an acknowledgement stops repeats, and an import rejection has none: no repeats")
        if not 0 <= self.delay_s <= MAX_DELAY_S:
            found.append(f"delay {self.delay_s} s is not between 0 and {MAX_DELAY_S} s (a week)")
        if not 0 <= self.repeat_max <= MAX_REPEATS:
            found.append(f"repeats {self.repeat_max} is not between 0 and {MAX_REPEATS}")
        if self.repeat_max and self.repeat_every_s < 60:
            found.append("repeats need an interval of at least 60 s")
        return found


def _webhook_url(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname or any(c.isspace() for c in url):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.netloc.rsplit("@", 1)[-1].rsplit(":", 1)[0]
                                       in LOOPBACK)


def add(wh: Warehouse, rule: Rule, *, by: str, reason: str) -> str:
    """Store a new rule (audited); ValueError naming every problem when it is not valid."""
    problems = rule.problems()
    if rule.site_id is not None and rule.site_id not in set(wh.query("sql/site_ids")["site_id"]):
        problems.append(f"site {rule.site_id!r} is not a site of the network")
    if problems:
        raise ValueError("; ".join(problems))
    rule_id = f"R-{secrets.token_hex(4)}"
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with wh.transaction() as conn:
        wh.execute(conn, "notifications/rule_insert", {**rule.__dict__, "rule_id": rule_id, "created_by": by,
                                                       "created_at": now})
        audit.append(wh, user_id=by, action="notification_rule_added", object_type="notification_rule",
                     object_id=rule_id, reason=reason, new_value=describe(rule), conn=conn)
    return rule_id


def set_active(wh: Warehouse, rule_id: str, active: bool, *, by: str, reason: str) -> None:
    with wh.transaction() as conn:
        changed = wh.execute(conn, "notifications/rule_set_active", {"rule_id": rule_id, "active": active}).fetchall()
        if not changed:
            raise ValueError(f"no {'inactive' if active else 'active'} rule {rule_id!r}")
        audit.append(wh, user_id=by, action="notification_rule_" + ("activated" if active else "deactivated"),
                     object_type="notification_rule", object_id=rule_id, reason=reason, conn=conn)


def all_rules(wh: Warehouse) -> pd.DataFrame:
    return wh.query("notifications/rules_all")


def describe(rule) -> str:
    """One line a reviewer reads: what, where, whom, when."""
    get = rule.get if isinstance(rule, dict) else rule.__dict__.get
    where = ", ".join(f"{k.removesuffix('_id')} {get(k)}" for k in ("site_id", "room_id", "grade", "parameter")
                      if get(k) is not None and get(k) == get(k)) or "every site"
    repeat = (f", then every {_duration(get('repeat_every_s'))} up to {int(get('repeat_max'))} more times until "
              "acknowledged") if get("repeat_max") else ""
    when = "at once" if not get("delay_s") else f"after {_duration(get('delay_s'))}"
    return f"{get('event')} ({where}) → {get('channel')} {get('recipient')} {when}{repeat}"


def _duration(seconds) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


# `atmp-hub notify demo` (make run): an escalation path to try the notifications with.
DEMO_RULES = (
    (Rule(event="excursion_action", recipient="qa-oncall@example.org", repeat_every_s=600, repeat_max=2),
     "demo step 1: the on-call QA at once, reminded every 10 minutes until acknowledged"),
    (Rule(event="excursion_action", recipient="quality-lead@example.org", delay_s=1200),
     "demo step 2: the quality lead after 20 minutes unacknowledged"),
    (Rule(event="import_rejected", recipient="data-steward@example.org"),
     "demo: the data steward hears of every file the drop folder refuses"),
)


EDITOR_ROLES = frozenset({"leadership", "admin"})
RULES_MEANING = ("Notification rules: I authorise this change to who is notified of what; the reason given "
                 "is mine.")
REASON_MAX = 1000
REFUSED = "notification_change_refused"
EVERY = "*"  # the page's "every site" / "every parameter" choice


def _editor(wh: Warehouse, actor_id, object_id) -> None:
    actor = users.get_user(wh, actor_id) if isinstance(actor_id, str) else None
    if actor is None or not actor.active or actor.role not in EDITOR_ROLES:
        esignature.audit_refusal(wh, user_id=actor_id if isinstance(actor_id, str) else None, action=REFUSED,
                                 object_type="notification_rule", object_id=object_id,
                                 reason=f"role {actor.role if actor else 'unknown'} may not change notification rules")
        raise NotAdmin("Only quality leadership or an administrator may change notification rules.")


def _text(value, limit: int = 300) -> str | None:
    if not isinstance(value, str) or "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
        return None
    return value.strip()[:limit] or None


def _chosen(value) -> str | None:
    """A select's value: EVERY (or nothing) means no filter."""
    text = _text(value)
    return None if text in (None, EVERY) else text


def _whole(value, name: str, scale: int = 1) -> int:
    """A whole number from a form field (an empty field is 0); `scale` turns minutes into seconds."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Refused(f"{name} must be a whole number.")
    try:
        number = float(value)
    except ValueError:
        raise Refused(f"{name} must be a whole number.") from None
    if number != number or number != int(number):
        raise Refused(f"{name} must be a whole number.")
    return int(number) * scale


def _signed(wh: Warehouse, actor_id, password, reason, object_id, attempt_allowed) -> str:
    _editor(wh, actor_id, object_id)
    why = _text(reason, REASON_MAX)
    if not why:
        raise Refused("A reason is required: say why this change is made.")
    try:
        esignature.check(wh, user_id=actor_id, password=password, object_type="notification_rule",
                         object_id=str(object_id or "new"), meaning=RULES_MEANING, attempt_allowed=attempt_allowed)
    except esignature.SignatureFailed as failed:
        raise Refused(str(failed)) from None
    return why


def signed_add(wh: Warehouse, *, actor_id: str, event, channel, recipient, site_id, room_id, grade, parameter,
               delay_min, repeat_every_min, repeat_max, reason, password,
               attempt_allowed: Callable[[], bool] | None = None) -> tuple[str, Rule]:
    """A rule from the page's form (minutes there, seconds stored), signed; (rule id, rule)."""
    _editor(wh, actor_id, None)
    rule = Rule(event=_text(event) or "", channel=_text(channel) or "", recipient=_text(recipient) or "",
                site_id=_chosen(site_id), room_id=_text(room_id, 40), grade=_chosen(grade), parameter=_chosen(parameter),
                delay_s=_whole(delay_min, "The delay", 60), repeat_every_s=_whole(repeat_every_min, "The interval", 60),
                repeat_max=_whole(repeat_max, "The number of reminders"))
    problems = rule.problems()
    if problems:
        raise Refused("; ".join(p[:1].upper() + p[1:] for p in problems) + ".")
    why = _signed(wh, actor_id, password, reason, None, attempt_allowed)
    try:
        return add(wh, rule, by=actor_id, reason=why), rule
    except ValueError as exc:  # the site is not one of the network's
        raise Refused(str(exc)[:1].upper() + str(exc)[1:] + ".") from None


def signed_deactivate(wh: Warehouse, *, actor_id: str, rule_id, reason, password,
                      attempt_allowed: Callable[[], bool] | None = None) -> str:
    _editor(wh, actor_id, rule_id)
    if not isinstance(rule_id, str) or rule_id not in set(all_rules(wh).query("active")["rule_id"]):
        esignature.audit_refusal(wh, user_id=actor_id, action=REFUSED, object_type="notification_rule",
                                 object_id=rule_id, reason="no such active rule")
        raise Refused("Choose an active rule.")
    why = _signed(wh, actor_id, password, reason, rule_id, attempt_allowed)
    set_active(wh, rule_id, False, by=actor_id, reason=why)
    return rule_id


def queue_test(wh: Warehouse, *, actor_id: str, rule_id) -> str:
    """A test message to a rule's recipient, through the outbox like any other (audited; no signature:
    it changes nothing but sends one message)."""
    _editor(wh, actor_id, rule_id)
    found = all_rules(wh)
    found = found[found["rule_id"] == rule_id] if isinstance(rule_id, str) else found.iloc[0:0]
    if found.empty:
        raise Refused("Choose a rule.")
    rule = found.iloc[0].to_dict()
    now = datetime.now(UTC).replace(tzinfo=None)
    message = Message(f"{SUBJECT_PREFIX} test message for rule {rule_id}",
                      f"A test of notification rule {rule_id}, sent at the request of {actor_id} at "
                      f"{now:%Y-%m-%d %H:%M:%S} UTC.\n\nThe rule: {describe(rule)}\n\nNothing happened; no "
                      "acknowledgement is needed.\n")
    with wh.transaction() as conn:
        queue(wh, conn, [{**rule, "delay_s": 0}], event=TEST, event_id=f"{rule_id}/{now:%Y%m%dT%H%M%S%f}", site_id=None, at=now,
              message=message)
        audit.append(wh, user_id=actor_id, action="notification_test_queued", object_type="notification_rule",
                     object_id=rule_id, new_value=f"to {rule['recipient']} by {rule['channel']}", conn=conn)
    return str(rule["recipient"])


def signed_add_shift(wh: Warehouse, *, actor_id: str, site_id, days, starts, ends, recipient, reason, password,
                     attempt_allowed: Callable[[], bool] | None = None) -> str:
    """An on-call shift from the page's form (days: the weekdays chosen), signed; its id."""
    _editor(wh, actor_id, None)
    chosen = "".join(sorted({d for d in days if isinstance(d, str)})) if isinstance(days, list) else ""
    fields = {"site_id": _text(site_id) or "", "days": chosen, "starts": _text(starts) or "",
              "ends": _text(ends) or "", "recipient": _text(recipient) or ""}
    found = on_call.problems(fields["days"], fields["starts"], fields["ends"])
    if found:
        raise Refused("; ".join(p[:1].upper() + p[1:] for p in found) + ".")
    why = _signed(wh, actor_id, password, reason, None, attempt_allowed)
    try:
        return on_call.add(wh, **fields, by=actor_id, reason=why)
    except ValueError as exc:
        raise Refused(str(exc)[:1].upper() + str(exc)[1:] + ".") from None


def signed_deactivate_shift(wh: Warehouse, *, actor_id: str, shift_id, reason, password,
                            attempt_allowed: Callable[[], bool] | None = None) -> str:
    _editor(wh, actor_id, shift_id)
    active = wh.query("notifications/shifts_all").query("active")["shift_id"]
    if not isinstance(shift_id, str) or shift_id not in set(active):
        raise Refused("Choose an active shift.")
    why = _signed(wh, actor_id, password, reason, shift_id, attempt_allowed)
    on_call.deactivate(wh, shift_id, by=actor_id, reason=why)
    return shift_id
