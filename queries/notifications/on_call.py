"""On-call shifts: who "on-call" is at a site at a given moment.

A shift covers the weekdays it starts on (1 Monday .. 7 Sunday) from `starts` to `ends` in the site's
time zone; an `ends` earlier than `starts` runs into the next day (a night shift starting Friday 19:00 ends
Saturday 07:00), an equal one covers 24 hours. Local times follow the site's zone through daylight-saving
changes. Everyone whose shift covers the moment is on call (overlapping shifts each get the message); no
one on call makes the message fail, say why and be retried, and after three failures it is a system alarm
(delivery_failing), so a gap in the rota is never silent.

Shifts are added and switched off, never edited (audited with who and why): `atmp-hub notify on-call`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from queries.engine.warehouse import Warehouse
from queries.notifications.outbox import EMAIL
from queries.records import audit

CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
DAYS = re.compile(r"[1-7]{1,7}")


@dataclass(frozen=True)
class Shift:
    days: str
    starts: str
    ends: str
    recipient: str
    shift_id: str = ""

    def covers(self, local: datetime) -> bool:
        """Whether this shift covers a (naive) local time of its site."""
        start, end = time.fromisoformat(self.starts), time.fromisoformat(self.ends)
        day, clock = str(local.isoweekday()), local.time()
        before = str((local - timedelta(days=1)).isoweekday())
        if start < end:
            return day in self.days and start <= clock < end
        if start == end:  # 24 hours from the start
            return (day in self.days and clock >= start) or (before in self.days and clock < start)
        return (day in self.days and clock >= start) or (before in self.days and clock < end)


def on_call_at(shifts: list[Shift], at_utc: datetime, timezone: str) -> list[Shift]:
    local = at_utc.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return [s for s in shifts if s.covers(local)]


def who(wh: Warehouse, site_id: str | None, at_utc: datetime) -> tuple[list[Shift], str]:
    """The shifts on call at a site at a moment, and the site's local time as words (for the record)."""
    found = wh.query("notifications/shifts_of_site", {"site_id": site_id})
    if found.empty:
        return [], f"no site {site_id!r}"
    timezone = found.iat[0, found.columns.get_loc("timezone")]
    shifts = [Shift(r.days, r.starts, r.ends, r.recipient, r.shift_id) for r in found.itertuples()
              if not pd.isna(r.shift_id)]
    local = at_utc.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))
    return on_call_at(shifts, at_utc, timezone), f"{site_id} {local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def problems(days: str, starts: str, ends: str) -> list[str]:
    found = []
    if not DAYS.fullmatch(days or "") or len(set(days)) != len(days):
        found.append(f"days {days!r}: the weekdays as digits 1 (Monday) to 7 (Sunday), each once, e.g. 12345")
    for name, value in (("start", starts), ("end", ends)):
        if not CLOCK.fullmatch(value or ""):
            found.append(f"{name} {value!r} is not a time HH:MM (00:00 to 23:59)")
    return found


def add(wh: Warehouse, *, site_id: str, days: str, starts: str, ends: str, recipient: str, by: str,
        reason: str) -> str:
    found = problems(days, starts, ends)
    if site_id not in set(wh.query("sql/site_ids")["site_id"]):
        found.append(f"site {site_id!r} is not a site of the network")
    if not EMAIL.fullmatch(recipient or ""):
        found.append(f"recipient {recipient!r} is not one e-mail address")
    if found:
        raise ValueError("; ".join(found))
    shift_id = f"S-{secrets.token_hex(4)}"
    with wh.transaction() as conn:
        wh.execute(conn, "notifications/shift_insert", {
            "shift_id": shift_id, "site_id": site_id, "days": "".join(sorted(days)), "starts": starts, "ends": ends,
            "recipient": recipient, "created_by": by, "created_at": datetime.now(UTC).replace(tzinfo=None)})
        audit.append(wh, user_id=by, action="on_call_shift_added", object_type="on_call_shift", object_id=shift_id,
                     reason=reason, new_value=f"{site_id} days {days} {starts}-{ends} local: {recipient}", conn=conn)
    return shift_id


def deactivate(wh: Warehouse, shift_id: str, *, by: str, reason: str) -> None:
    with wh.transaction() as conn:
        if not wh.execute(conn, "notifications/shift_deactivate", {"shift_id": shift_id}).fetchall():
            raise ValueError(f"no active shift {shift_id!r}")
        audit.append(wh, user_id=by, action="on_call_shift_deactivated", object_type="on_call_shift",
                     object_id=shift_id, reason=reason, conn=conn)
