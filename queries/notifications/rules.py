"""Notification rules: added and switched off (never edited in place, so the audit trail tells which rule
said what when), each change in the audit trail with who made it."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pandas as pd

from queries.engine.warehouse import Warehouse
from queries.notifications.outbox import EVENTS, EXCURSION_EVENTS
from queries.records import audit

CHANNELS = ("email", "webhook")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
PARAMETERS = ("temperature", "humidity", "diff_pressure", "particles_0_5", "particles_5_0")
EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+|[^@\s,;<>]+@localhost")
MAX_DELAY_S = 7 * 24 * 3600
MAX_REPEATS = 50


@dataclass(frozen=True)
class Rule:
    event: str
    recipient: str
    channel: str = "email"
    site_id: str | None = None
    room_id: str | None = None
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
        if self.channel == "email" and not EMAIL.fullmatch(self.recipient or ""):
            found.append(f"recipient {self.recipient!r} is not one e-mail address")
        if self.channel == "webhook" and not _webhook_url(self.recipient or ""):
            found.append(f"webhook {self.recipient!r} is not an https:// URL (http:// only to this host)")
        if self.parameter is not None and self.parameter not in PARAMETERS:
            found.append(f"parameter {self.parameter!r} is not one of {', '.join(PARAMETERS)}")
        if self.event not in EXCURSION_EVENTS.values():
            if self.room_id or self.parameter or self.site_id:
                found.append("an import rejection has no site, room or parameter: leave them empty")
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
    where = ", ".join(f"{k} {get(k)}" for k in ("site_id", "room_id", "parameter")
                      if get(k) is not None and get(k) == get(k)) or "everywhere"
    repeat = (f", then every {int(get('repeat_every_s'))} s up to {int(get('repeat_max'))} more times until "
              "acknowledged") if get("repeat_max") else ""
    return (f"{get('event')} ({where}) -> {get('channel')} {get('recipient')} after {int(get('delay_s'))} s"
            f"{repeat}")


# `atmp-hub notify demo` (make run): an escalation path to try the notifications with.
DEMO_RULES = (
    (Rule(event="excursion_action", recipient="qa-oncall@example.org", repeat_every_s=600, repeat_max=2),
     "demo step 1: the on-call QA at once, reminded every 10 minutes until acknowledged"),
    (Rule(event="excursion_action", recipient="quality-lead@example.org", delay_s=1200),
     "demo step 2: the quality lead after 20 minutes unacknowledged"),
    (Rule(event="import_rejected", recipient="data-steward@example.org"),
     "demo: the data steward hears of every file the drop folder refuses"),
)
