"""Delivering one message: e-mail over SMTP (ATMP_SMTP_URL), or the app's log when no server is set.

A sender returns what happened in words a reviewer can check (the server's reply) or raises
DeliveryFailed with the reason; the dispatcher records either as an attempt. The Message-ID is the
outbox row's id, so a message sent twice (see notify/dispatcher.py) is recognisable as one.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate

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

    def send(self, notification_id: str, recipient: str, subject: str, body: str) -> Delivered:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = f"<{notification_id}@{MESSAGE_ID_DOMAIN}>"
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        message["X-ATMP-Notification"] = notification_id
        message.set_content(body)
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
        return Delivered("sent", f"{where} accepted it: {code} {reply.decode(errors='replace')}")


class LogSender:
    """No mail server configured: the message goes to the log, and the record says it was only printed."""

    channel = "email"

    def send(self, notification_id: str, recipient: str, subject: str, body: str) -> Delivered:
        logger.warning("notification %s NOT e-mailed (ATMP_SMTP_URL is not set), printed here instead:\n"
                       "To: %s\nSubject: %s\n\n%s", notification_id, recipient, subject, body)
        return Delivered("printed", "printed to the app's log: ATMP_SMTP_URL is not set")


def sender_for(settings: Settings) -> EmailSender | LogSender:
    if not settings.smtp_url:
        return LogSender()
    return EmailSender(SmtpServer.from_url(settings.smtp_url), settings.notify_from, settings.notify_send_timeout_s)
