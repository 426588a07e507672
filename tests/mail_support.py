"""A real SMTP server on loopback for the notification tests (aiosmtpd): it counts what it accepted.

The handler takes a message only when it answers 250, after `accept_delay_s`: a client that vanishes
before then (a dispatcher killed mid-send) leaves nothing, since aiosmtpd cancels the handler when the
connection drops, as a server that has not yet taken responsibility for a message does.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message

from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    port: int
    accept_delay_s: float = 0.0
    received: list[Message] = field(default_factory=list)
    receiving: threading.Event = field(default_factory=threading.Event)  # a DATA has begun
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.receiving.set()
        if self.accept_delay_s:
            await asyncio.sleep(self.accept_delay_s)
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self._lock:
            self.received.append(message)
        return "250 2.0.0 Ok: queued"

    def start(self) -> Mailbox:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def message_ids(self) -> list[str]:
        with self._lock:
            return [m["Message-ID"] for m in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
