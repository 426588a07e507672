"""System alarms: conditions of the hub itself that someone must hear of, whatever the rules say.

- sensor_silent: a sensor that reported in the last day has had no reading stored for
  ATMP_ALARM_SILENT_INTERVALS of its expected intervals (by the time ingest stored it, not the device's
  clock). When no sensor at all has been stored for that long (the shortest interval times N, at least a
  minute) it is one alarm, ingest_stopped (the bridge disconnected or not writing), not one per sensor.
- audit_chain: the audit trail fails verification (queries/records/audit.py), checked every
  ATMP_ALARM_AUDIT_CHECK_S.
- delivery_failing: a notification has failed three attempts and is still not delivered.
- The warehouse unreachable: it cannot hold its own alarm, so `Outage` sends that one straight to the
  same addresses (not through the outbox) once it has lasted ATMP_ALARM_CHECK_S, logs it, and sends and
  audits the all-clear when the warehouse answers again.

The dispatcher (notify/dispatcher.py) runs `Watchdog.check` every ATMP_ALARM_CHECK_S. An alarm is a row
of `system_alarms`, raised once while its condition lasts (its id names kind, subject and since when, so
two dispatchers raising it at once raise it once) and cleared when the condition ends. Raising queues one
message per address in ATMP_SYSTEM_ALARM_TO in the same transaction (the log when it is empty); rules do
not apply, so no rule can silence one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse
from queries.notifications import outbox
from queries.records import audit

logger = logging.getLogger(__name__)

EVENT = "system_alarm"
DELIVERY_FAILURES = 3
REPORTING_WINDOW = timedelta(days=1)
MIN_SILENCE = timedelta(minutes=1)


@dataclass(frozen=True)
class Condition:
    kind: str
    subject: str
    since: datetime | None  # when the condition began, as the data shows it (None: not known)
    detail: str
    site_id: str | None = None

    @property
    def alarm_id(self) -> str:
        return f"{self.kind}/{self.subject}" + (f"/{self.since:%Y%m%dT%H%M%S}" if self.since else "")


def recipients(settings: Settings) -> list[dict]:
    """Who hears of every alarm, as the rows `outbox.queue` takes (no rule: `rule_id` says so)."""
    addresses = [a.strip() for a in settings.system_alarm_to.split(",") if a.strip()]
    targets = [("email", a) for a in addresses] or [("log", "the app's log (ATMP_SYSTEM_ALARM_TO is not set)")]
    # One pseudo-rule per address: a message's id derives from its rule, so each address gets its own.
    return [{"rule_id": f"system:{to}", "channel": channel, "recipient": to, "delay_s": 0, "repeat_every_s": 0,
             "repeat_max": 0} for channel, to in targets]


class Watchdog:
    def __init__(self, wh: Warehouse, settings: Settings, clock: Callable[[], datetime]):
        self.wh, self.settings, self.clock = wh, settings, clock
        self._audit_checked_at: datetime | None = None
        self._audit_failure: Condition | None = None  # the last verification's, until the next one

    def conditions(self, now: datetime) -> list[Condition]:
        return [*self._silence(now), *self._audit(now), *self._deliveries()]

    def check(self) -> list[str]:
        """Raise what began, clear what ended; the ids of the alarms this call raised."""
        now = self.clock()
        found = {c.alarm_id: c for c in self.conditions(now)}
        open_now = self.wh.query("notifications/alarms_open")
        raised = []
        with self.wh.transaction() as conn:
            for alarm_id in set(open_now["alarm_id"]) - set(found):
                self.wh.execute(conn, "notifications/alarm_clear", {"alarm_id": alarm_id, "cleared_at": now})
                logger.warning("system alarm cleared: %s", alarm_id)
            for condition in found.values():
                if condition.alarm_id in set(open_now["alarm_id"]):
                    continue
                inserted = self.wh.execute(conn, "notifications/alarm_raise", {
                    "alarm_id": condition.alarm_id, "kind": condition.kind, "subject": condition.subject,
                    "site_id": condition.site_id, "detail": condition.detail, "raised_at": now}).fetchall()
                if not inserted:
                    continue  # another dispatcher raised it a moment ago
                raised.append(condition)
                logger.error("SYSTEM ALARM %s: %s", condition.alarm_id, condition.detail)
            if raised:
                subject = (f"{outbox.SUBJECT_PREFIX} SYSTEM ALARM: {raised[0].detail.splitlines()[0]}"
                           + (f" (and {len(raised) - 1} more)" if len(raised) > 1 else ""))
                body = ("System alarms raised at " f"{now:%Y-%m-%d %H:%M:%S} UTC (they clear when the condition ends; "
                        "the Notifications page lists them):\n\n"
                        + "\n".join(f"- {c.kind}: {c.detail}" for c in raised) + "\n")
                outbox.queue(self.wh, conn, recipients(self.settings), event=EVENT, event_id=raised[0].alarm_id,
                             site_id=None, at=now, message=outbox.Message(subject, body))
        return [c.alarm_id for c in raised]

    # -- the conditions ------------------------------------------------------------------------------
    def _silence(self, now: datetime) -> list[Condition]:
        reporting = self.wh.query("notifications/sensors_reporting", {"since": now - REPORTING_WINDOW})
        if reporting.empty:
            return []
        n = self.settings.alarm_silent_intervals
        last = pd.to_datetime(reporting["received_at"])
        allowed = pd.to_timedelta(reporting["interval_s"].astype(float) * n, unit="s").clip(lower=MIN_SILENCE)
        silent = reporting[now - last > allowed]
        if silent.empty:
            return []
        newest = last.max().to_pydatetime()
        if len(silent) == len(reporting):  # nobody stored anything: ingest itself stopped
            return [Condition("ingest_stopped", "network", newest,
                              f"ingest stopped: no reading stored from any of {len(reporting)} sensors since "
                              f"{newest:%Y-%m-%d %H:%M:%S} UTC (the bridge disconnected or not writing?)")]
        return [Condition("sensor_silent", r.sensor_id, pd.Timestamp(r.received_at).to_pydatetime(),
                          f"sensor {r.sensor_id} ({r.parameter}, room {r.room_id}, {r.site_id}) silent since "
                          f"{pd.Timestamp(r.received_at):%Y-%m-%d %H:%M:%S} UTC (expected every {int(r.interval_s)} s)",
                          r.site_id)
                for r in silent.itertuples()]

    def _audit(self, now: datetime) -> list[Condition]:
        due = (self._audit_checked_at is None
               or now - self._audit_checked_at >= timedelta(seconds=self.settings.alarm_audit_check_s))
        if due:
            self._audit_checked_at = now
            check = audit.verify(self.wh)
            self._audit_failure = None if check.ok else Condition(
                "audit_chain", f"entry-{check.first_bad_entry}", None,
                f"the audit trail fails verification at entry {check.first_bad_entry}: {check.problem}")
        return [self._audit_failure] if self._audit_failure else []

    def _deliveries(self) -> list[Condition]:
        failing = self.wh.query("notifications/deliveries_failing", {"min_failures": DELIVERY_FAILURES})
        return [Condition("delivery_failing", r.notification_id, pd.Timestamp(r.first_failure).to_pydatetime(),
                          f"notification {r.notification_id} to {r.recipient} ({r.channel}) not delivered after "
                          f"{int(r.failures)} attempts (the Notifications page shows each answer)")
                for r in failing.itertuples()]


class Outage:
    """The warehouse unreachable, seen by a dispatcher's failing passes (see the module's docstring)."""

    def __init__(self, settings: Settings, senders: dict, clock: Callable[[], datetime]):
        self.settings, self.senders, self.clock = settings, senders, clock
        self.since: datetime | None = None
        self.alarmed = False
        self.reason = ""

    def failed(self, reason: str) -> None:
        now = self.clock()
        if self.since is None:
            self.since, self.reason = now, reason
        if not self.alarmed and (now - self.since).total_seconds() >= self.settings.alarm_check_s:
            self.alarmed = True
            logger.error("SYSTEM ALARM warehouse unreachable since %s UTC: %s", f"{self.since:%Y-%m-%d %H:%M:%S}",
                         self.reason)
            self._tell("alarm", f"SYSTEM ALARM: the warehouse is unreachable since {self.since:%Y-%m-%d %H:%M:%S} UTC",
                       f"The notification dispatcher cannot reach the warehouse:\n\n{self.reason}\n\nNothing is "
                       "lost: events written before stay queued, and ingest holds new readings at the broker. "
                       "Another message follows when it answers again.\n")

    def succeeded(self, wh: Warehouse) -> None:
        if self.since is None:
            return
        since = self.since
        if not self.alarmed:
            self.since = None
            return
        now = self.clock()
        # The audit entry first: a warehouse that answers but cannot take it yet (its schema half made)
        # raises here, and the alarm stands until a later pass records its end.
        audit.append(wh, user_id="notifier", action="system_alarm_cleared", object_type="warehouse",
                     object_id="warehouse_unreachable", reason=self.reason[:300],
                     new_value=f"unreachable {since:%Y-%m-%d %H:%M:%S} to {now:%Y-%m-%d %H:%M:%S} UTC")
        self.since, self.alarmed = None, False
        logger.warning("system alarm cleared: the warehouse answers again (unreachable %s to %s UTC)",
                       f"{since:%H:%M:%S}", f"{now:%H:%M:%S}")
        self._tell("cleared", f"cleared: the warehouse answers again (unreachable since {since:%Y-%m-%d %H:%M:%S} UTC)",
                   f"The warehouse answers again at {now:%Y-%m-%d %H:%M:%S} UTC; it was unreachable from "
                   f"{since:%Y-%m-%d %H:%M:%S} UTC ({self.reason}).\n")

    def _tell(self, kind: str, headline: str, body: str) -> None:
        at = self.since or self.clock()
        for target in recipients(self.settings):
            row = {"notification_id": f"N-outage-{at:%Y%m%dT%H%M%S}-{kind}",
                   "event": EVENT, "event_id": f"warehouse_unreachable/{at:%Y%m%dT%H%M%S}", "site_id": None,
                   "subject": f"{outbox.SUBJECT_PREFIX} {headline}", "body": body, "due_at": at, **target}
            try:
                result = self.senders[target["channel"]].send(row)
                logger.info("warehouse alarm to %s: %s", target["recipient"], result.response)
            except Exception as exc:  # the mail server may be down with it: the log keeps it
                logger.error("warehouse alarm to %s not delivered: %s", target["recipient"], exc)
