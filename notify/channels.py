"""Delivering one message: e-mail over SMTP (ATMP_SMTP_URL), or the app's log when no server is set; a
webhook (a signed JSON POST, for Teams/Slack/paging gateways).

A sender returns what happened in words a reviewer can check (the server's reply) or raises
DeliveryFailed with the reason; the dispatcher records either as an attempt. The outbox row's id is the
e-mail's Message-ID and the webhook's X-ATMP-Notification header, so a message sent twice (see
notify/dispatcher.py) is recognisable as one.

Webhook signature: X-ATMP-Signature is "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body), the
timestamp (Unix seconds) in X-ATMP-Timestamp; a receiver recomputes it with the shared secret
(ATMP_WEBHOOK_SECRET_FILE) and refuses a stale timestamp, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from queries.engine.settings import Settings, SmtpServer

logger = logging.getLogger(__name__)
MESSAGE_ID_DOMAIN = "atmp-hub"


class DeliveryFailed(RuntimeError):
    """The message was not accepted; the text says by whom and why."""


@dataclass(frozen=True)
class Delivered:
    outcome: str   # sent | printed
    response: str


class EmailSender:
    channel = "email"

    def __init__(self, server: SmtpServer, sender: str, timeout_s: float):
        self.server, self.sender, self.timeout_s = server, sender, timeout_s

    def send(self, row: dict) -> Delivered:
        """To `row["to"]` (the addresses an on-call recipient stands for) or else `row["recipient"]`."""
        notification_id, addresses = row["notification_id"], row.get("to") or [row["recipient"]]
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(addresses)
        message["Subject"] = row["subject"]
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = f"<{notification_id}@{MESSAGE_ID_DOMAIN}>"
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        message["X-ATMP-Notification"] = notification_id
        message.set_content(row["body"])
        where = self.server.describe()
        try:
            if self.server.tls == "implicit":
                smtp = smtplib.SMTP_SSL(self.server.host, self.server.port, timeout=self.timeout_s,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.server.host, self.server.port, timeout=self.timeout_s)
            with smtp:
                smtp.ehlo()
                if self.server.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.server.user:
                    smtp.login(self.server.user, self.server.password or "")
                code, reply = smtp.mail(self.sender)
                if code != 250:
                    raise DeliveryFailed(f"{where} refused the sender: {code} {reply.decode(errors='replace')}")
                for recipient in addresses:
                    code, reply = smtp.rcpt(recipient)
                    if code not in (250, 251):
                        raise DeliveryFailed(f"{where} refused {recipient}: {code} {reply.decode(errors='replace')}")
                code, reply = smtp.data(message.as_bytes(policy=policy.SMTP))  # CRLF lines
                if code != 250:
                    raise DeliveryFailed(f"{where} refused the message: {code} {reply.decode(errors='replace')}")
        except DeliveryFailed:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"{where}: {type(exc).__name__}: {exc}") from None
        return Delivered("sent", f"{where} accepted it for {', '.join(addresses)}: {code} "
                                 f"{reply.decode(errors='replace')}")


class LogSender:
    """No mail server configured (or no address for system alarms): the message goes to the log, and the
    record says it was only printed."""

    channel = "email"

    def __init__(self, because: str):
        self.because = because

    def send(self, row: dict) -> Delivered:
        logger.warning("notification %s NOT e-mailed (%s), printed here instead:\nTo: %s\nSubject: %s\n\n%s",
                       row["notification_id"], self.because, row["recipient"], row["subject"], row["body"])
        return Delivered("printed", f"printed to the app's log: {self.because}")


class WebhookSender:
    channel = "webhook"

    def __init__(self, secret: bytes | None, timeout_s: float):
        self.secret, self.timeout_s = secret, timeout_s

    def send(self, row: dict) -> Delivered:
        url = row["recipient"]
        if self.secret is None:
            raise DeliveryFailed("not sent: ATMP_WEBHOOK_SECRET_FILE is not set (webhooks are always signed)")
        payload = json.dumps({key: row[key] for key in PAYLOAD_FIELDS}, default=str, sort_keys=True).encode()
        stamp = str(int(time.time()))
        request = urllib.request.Request(url, data=payload, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "atmp-hub-notifier",
            "X-ATMP-Notification": row["notification_id"], "X-ATMP-Timestamp": stamp,
            "X-ATMP-Signature": "sha256=" + signature(self.secret, stamp, payload)})
        try:
            with _NO_REDIRECTS.open(request, timeout=self.timeout_s) as response:
                return Delivered("sent", f"{url} answered HTTP {response.status}: {_excerpt(response.read())}")
        except urllib.error.HTTPError as exc:  # any answer but 2xx, redirects included
            raise DeliveryFailed(f"{url} answered HTTP {exc.code}: {_excerpt(exc.read())}") from None
        except (OSError, ValueError) as exc:  # refused, timed out, TLS, a malformed URL
            raise DeliveryFailed(f"{url}: {type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None


PAYLOAD_FIELDS = ("notification_id", "event", "event_id", "site_id", "subject", "body", "due_at")


def signature(secret: bytes, stamp: str, payload: bytes) -> str:
    return hmac.new(secret, stamp.encode() + b"." + payload, hashlib.sha256).hexdigest()


def _excerpt(raw: bytes) -> str:
    return raw[:200].decode("utf-8", errors="replace").strip() or "(empty)"


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a signed POST is never re-sent elsewhere
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def webhook_secret(settings: Settings) -> bytes | None:
    """The shared secret of webhook signatures (ATMP_WEBHOOK_SECRET_FILE), None when unset."""
    if not settings.webhook_secret_file:
        return None
    return Path(settings.webhook_secret_file).read_bytes().strip()


def senders_for(settings: Settings) -> dict[str, EmailSender | LogSender | WebhookSender]:
    """The sender of each channel, as the settings configure them."""
    email = LogSender("ATMP_SMTP_URL is not set") if not settings.smtp_url else EmailSender(
        SmtpServer.from_url(settings.smtp_url), settings.notify_from, settings.notify_send_timeout_s)
    return {"email": email, "webhook": WebhookSender(webhook_secret(settings), settings.notify_send_timeout_s),
            "log": LogSender("ATMP_SYSTEM_ALARM_TO is not set")}
