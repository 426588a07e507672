"""Sending what the outbox holds: claim, send, record; retry with back-off; never lose, rarely repeat.

One pass (`dispatch_due`):

1. Claim the next due message in one short transaction: status 'sending' under a lease (now + twice the send
   timeout). On PostgreSQL the claim skips rows another dispatcher has locked, so a dispatcher per server
   (or per gunicorn worker) share the work without a leader.
2. Per message, outside any transaction (a slow mail server never holds up ingest): an excursion already
   acknowledged cancels what is still due of its escalation; otherwise the channel sends it.
3. Record the attempt (sent, printed, failed with the server's reply) and its result in one transaction,
   with an audit entry for each message delivered or cancelled. A failure makes the message pending
   again after a back-off (5 s, doubling, at most ATMP_NOTIFY_RETRY_MAX_S); nothing gives up.

A dispatcher killed mid-send leaves its claimed messages 'sending'; once the lease runs out any
dispatcher (the same one, restarted) claims them again. That is the one way a message goes out twice:
when the kill falls between the server's acceptance and step 3's commit, a window of milliseconds. The
copy carries the same Message-ID (the outbox id), so a mail client or gateway shows it once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from notify.alarms import Outage, Watchdog
from notify.channels import DeliveryFailed, senders_for
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse, WarehouseUnavailable
from queries.notifications import ack_links, on_call
from queries.notifications.outbox import EXCURSION_EVENTS, LEADERSHIP, ON_CALL, SITE_MANAGERS
from queries.records import audit

logger = logging.getLogger(__name__)

AUDIT_USER = "notifier"
FIRST_RETRY_S = 5.0
# One message per claim: a dispatcher stopped mid-send holds exactly the message it was sending, so the
# attempt recorded as interrupted is that one (a claim costs one short transaction).
CLAIM_BATCH = 1


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Result:
    notification_id: str
    outcome: str     # sent | printed | cancelled | failed
    response: str


class Dispatcher:
    def __init__(self, wh: Warehouse, settings: Settings, *, clock: Callable[[], datetime] = utc_now):
        self.wh, self.settings, self.clock = wh, settings, clock
        self.senders = senders_for(settings)
        self.lease = timedelta(seconds=2 * settings.notify_send_timeout_s)
        self.claim_sql = "notifications/outbox_claim_pg" if wh.dialect == "postgresql" else \
            "notifications/outbox_claim_duckdb"

    def describe(self) -> str:
        email = self.senders["email"]
        how = f"e-mail via {email.server.describe()}" if hasattr(email, "server") else \
            "e-mail printed to the log (ATMP_SMTP_URL is not set)"
        signed = "signed webhooks" if self.senders["webhook"].secret else \
            "no webhooks (ATMP_WEBHOOK_SECRET_FILE is not set)"
        return f"{how}; {signed}"

    def backoff_s(self, attempts: int) -> float:
        return min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), self.settings.notify_retry_max_s)

    def next_due(self) -> datetime | None:
        value = self.wh.scalar("notifications/outbox_next_due")
        return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()

    def dispatch_due(self) -> list[Result]:
        """One pass: everything due now, claimed CLAIM_BATCH at a time, each recorded as it ends."""
        results: list[Result] = []
        while True:
            now = self.clock()
            due = self.next_due()
            if due is None or due > now:
                return results
            with self.wh.transaction() as conn:
                self.wh.execute(conn, "notifications/attempts_interrupted", {"now": now})
                claimed = self.wh.execute(conn, self.claim_sql, {
                    "now": now, "lease_until": now + self.lease, "n": CLAIM_BATCH}).mappings().all()
            if not claimed:
                return results
            results.extend(self._deliver(dict(row)) for row in claimed)

    def _deliver(self, row: dict) -> Result:
        cancel = self._cancelled_by(row)
        if cancel:
            return self._record(row, "cancelled", cancel)
        try:
            if row["recipient"] == ON_CALL:
                row = {**row, "to": self._on_call(row)}
            elif row["recipient"] in (SITE_MANAGERS, LEADERSHIP):
                row = {**row, "to": self._people(row)}
            if row["event"] in EXCURSION_EVENTS.values():
                row = {**row, "body": row["body"] + self._ack_link(row)}
            delivered = self.senders[row["channel"]].send(row)
        except DeliveryFailed as exc:
            return self._record(row, "failed", str(exc))
        return self._record(row, delivered.outcome, delivered.response)

    def _on_call(self, row: dict) -> list[str]:
        """Whoever is on call at the event's site when the message falls due (queries/notifications/on_call.py)."""
        shifts, local = on_call.who(self.wh, row["site_id"], pd.Timestamp(row["due_at"]).to_pydatetime())
        if not shifts:
            raise DeliveryFailed(f"nobody on call at {local} (see `atmp-hub notify on-call list`)")
        return sorted({s.recipient for s in shifts})

    def _people(self, row: dict) -> list[str]:
        """The addresses of the event's site's managers, or of the quality leaders, read now (a changed role
        or site is followed)."""
        if row["recipient"] == SITE_MANAGERS:
            found = self.wh.query("notifications/site_managers_email", {"site_id": row["site_id"]})
            who = f"site manager of {row['site_id']}"
        else:
            found = self.wh.query("notifications/leadership_email")
            who = "quality leader"
        if found.empty:
            raise DeliveryFailed(f"no active {who} has an e-mail address (the Users page, or atmp-hub users set-email)")
        return sorted(set(found["email"]))

    def _ack_link(self, row: dict) -> str:
        """A single-use, expiring link for this message (issued now: no token is kept in the outbox)."""
        token = ack_links.issue(self.wh, excursion_id=row["event_id"], notification_id=row["notification_id"],
                                recipient=", ".join(row.get("to") or [row["recipient"]]), now=self.clock(),
                                hours=self.settings.ack_link_hours)
        return (f"\nOr acknowledge from here (this link works once, for {self.settings.ack_link_hours:g} hours; "
                f"sign-in and your signature are still required):\n"
                f"{self.settings.public_url.rstrip('/')}/ack/{token}\n")

    def _cancelled_by(self, row: dict) -> str | None:
        """Why a claimed message is no longer to be sent: its excursion was acknowledged."""
        if row["event"] not in EXCURSION_EVENTS.values():
            return None
        state = self.wh.query("notifications/excursion_state", {"excursion_id": row["event_id"]})
        if state.empty or pd.isna(state.iat[0, 0]):
            return None
        return f"not sent: {row['event_id']} acknowledged by {state.iat[0, 1]} at {pd.Timestamp(state.iat[0, 0]):%Y-%m-%d %H:%M:%S} UTC"

    def _record(self, row: dict, outcome: str, response: str) -> Result:
        nid, now = row["notification_id"], self.clock()
        with self.wh.transaction() as conn:
            if outcome != "cancelled":
                self.wh.execute(conn, "notifications/attempt_insert", {
                    "notification_id": nid, "attempt": int(row["attempts"]), "attempted_at": now, "outcome": outcome,
                    "response": response[:2000]})
            if outcome == "failed":
                self.wh.execute(conn, "notifications/outbox_retry", {
                    "notification_id": nid, "response": response[:2000],
                    "next_attempt_at": now + timedelta(seconds=self.backoff_s(int(row["attempts"])))})
            else:
                self.wh.execute(conn, "notifications/outbox_finish", {
                    "notification_id": nid, "status": outcome, "now": now, "response": response[:2000]})
                audit.append(self.wh, user_id=AUDIT_USER, action=f"notification_{outcome}", object_type=row["event"],
                             object_id=row["event_id"], reason=response[:300],
                             new_value=f"{nid} to {row['recipient']} by {row['channel']} (rule {row['rule_id']}, "
                                       f"message {int(row['repeat_no']) + 1}): {row['subject']}",
                             conn=conn)
        if outcome == "failed":
            logger.error("notification %s to %s failed (attempt %s): %s", nid, row["recipient"], row["attempts"],
                         response)
        else:
            logger.info("notification %s %s: %s", nid, outcome, response)
        return Result(nid, outcome, response)

    # -- running -------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Dispatch until `stop` is set: look every ATMP_NOTIFY_POLL_S seconds, and check the system alarms
        every ATMP_ALARM_CHECK_S. A failed pass (the warehouse away) is logged and the next one runs."""
        watchdog = Watchdog(self.wh, self.settings, self.clock)
        outage = Outage(self.settings, self.senders, self.clock)
        checked_at = None
        while not stop.is_set():
            try:
                if checked_at is None or time.monotonic() - checked_at >= self.settings.alarm_check_s:
                    checked_at = time.monotonic()
                    watchdog.check()
                self.dispatch_due()
                outage.succeeded(self.wh)
            except WarehouseUnavailable as exc:
                logger.error("notification dispatch: %s; trying again", exc)
                outage.failed(str(exc))
                checked_at = None  # check the alarms first thing once it answers
            except Exception:
                logger.exception("notification dispatch failed; trying again")
            stop.wait(self.settings.notify_poll_s)

    def start(self) -> threading.Event:
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="notify-dispatcher", daemon=True).start()
        return stop


def start_in_app(settings: Settings, wh: Warehouse) -> threading.Event | None:
    """The app's own dispatcher (ATMP_NOTIFY_IN_APP)."""
    if not settings.notify_in_app:
        return None
    dispatcher = Dispatcher(wh, settings)
    logger.info("notifications: %s", dispatcher.describe())
    return dispatcher.start()
