"""The last resort for a message the warehouse refuses both as a reading and in quarantine.

Such a message must not stay unacknowledged: each one holds one of the broker's Receive Maximum
slots until the bridge reconnects, and the broker re-delivers it first on every new session, so a
few hundred of them stop all ingest. It is appended, with its reason, to a JSON Lines file (one
object per line, flushed and fsynced before the message is acknowledged):

    {"dead_lettered_at": "...Z", "received_at": "...Z", "topic": "...", "payload_b64": "...",
     "payload_bytes": 1234, "reason": "write_failed: ...; quarantine_failed: ..."}

`payload_b64` is the raw payload (its first STORED_PAYLOAD_MAX_BYTES bytes, like quarantine),
base64, so any byte sequence survives; `payload_bytes` is the full size. If even the file cannot be
written, the same record is logged at CRITICAL before the acknowledgement.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from ingest.validation import stored_payload

logger = logging.getLogger(__name__)

DEFAULT_FILE_NAME = "atmp-ingest-dead-letters.jsonl"


def default_path(database_url: str) -> Path:
    """<file>.dead-letters.jsonl next to a DuckDB file; otherwise atmp-ingest-dead-letters.jsonl in the
    process's working directory."""
    url = make_url(database_url)
    if url.get_backend_name() == "duckdb" and url.database and url.database != ":memory:":
        db = Path(url.database)
        return db.with_name(db.name + ".dead-letters.jsonl")
    return Path.cwd() / DEFAULT_FILE_NAME


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds") + "Z"


class DeadLetters:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, *, topic: str, payload: bytes, received_at: datetime | None, reason: str,
               now: datetime) -> dict:
        return {"dead_lettered_at": _iso(now), "received_at": _iso(received_at), "topic": topic,
                "payload_b64": base64.b64encode(stored_payload(payload)).decode("ascii"),
                "payload_bytes": len(payload), "reason": reason}

    def append(self, record: dict) -> bool:
        """Append one record durably (flush + fsync); False (and the record logged at CRITICAL) when
        the file cannot be written."""
        line = json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="ascii") as out:
                    out.write(line)
                    out.flush()
                    os.fsync(out.fileno())
        except OSError as exc:
            logger.critical("dead-letter file %s not writable (%s); the message is only in this log: %s",
                            self.path, exc, line.rstrip())
            return False
        logger.error("dead-lettered a message on %s to %s: %s", record["topic"], self.path, record["reason"])
        return True


def read(path: Path | str) -> list[dict]:
    """The records of a dead-letter file, payloads decoded to bytes under `payload`."""
    try:
        lines = Path(path).read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        if line.strip():
            record = json.loads(line)
            record["payload"] = base64.b64decode(record["payload_b64"])
            records.append(record)
    return records
