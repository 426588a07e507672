"""Real receivers on loopback for the notification tests: an SMTP server (aiosmtpd) and an HTTP server
for webhooks (the standard library's), each counting what it accepted.

The handler takes a message only when it answers 250, after `accept_delay_s`: a client that vanishes
before then (a dispatcher killed mid-send) leaves nothing, since aiosmtpd cancels the handler when the
connection drops, as a server that has not yet taken responsibility for a message does.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    port: int
    accept_delay_s: float = 0.0
    controller_options: dict = field(default_factory=dict)  # TLS and authentication (aiosmtpd's Controller)
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
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **self.controller_options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def message_ids(self) -> list[str]:
        with self._lock:
            return [m["Message-ID"] for m in self.received]


class WebhookReceiver:
    """An HTTP server taking POSTs on /hook: it checks the signature with the shared secret as a receiver
    should (401 when it does not match) and answers the status codes queued in `answers` first (then 200)."""

    def __init__(self, secret: bytes):
        self.secret = secret
        self.accepted: list[dict] = []
        self.refused: list[str] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's hook name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stamp, signed = self.headers.get("X-ATMP-Timestamp", ""), self.headers.get("X-ATMP-Signature", "")
                expected = "sha256=" + hmac.new(receiver.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(signed, expected):
                    receiver.refused.append(signed)
                    status = 401
                elif receiver.answers:
                    status = receiver.answers.pop(0)
                else:
                    receiver.accepted.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                              "json": json.loads(body)})
                    status = 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"try again later")

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed_certificate(directory) -> tuple[str, str]:
    """(certificate, key) files for 127.0.0.1, made by the openssl command, valid for a day."""
    import subprocess
    from pathlib import Path

    cert, key = Path(directory) / "smtp.crt", Path(directory) / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)
