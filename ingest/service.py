"""The ingest worker: messages in (from the MQTT bridge or the in-process simulator), batches out.

One thread drains a queue into batches (up to `batch_max` messages, waiting at most `batch_wait_ms`
to fill one), writes each batch in one transaction and only then acknowledges its messages.

Failures:

- The warehouse unreachable: the batch stays unacknowledged, so the broker holds everything else
  (its in-flight window fills and it stops sending). The worker probes the warehouse with a trivial
  query every PROBE_INTERVAL_S and writes the batch again as soon as a probe succeeds after failing,
  so ingest resumes within about a second of the warehouse's return. If the warehouse answers
  probes but writes still fail (a read-only or full disk), the retries back off up to MAX_BACKOFF_S.
- Any other error splits the batch and writes messages one by one, so one bad message cannot block
  ingest; a message that still fails alone is quarantined with the error as its reason
  (`write_failed`). If the quarantine insert fails too (other than by an outage), the message is
  dead-lettered (ingest/dead_letter.py: a JSON Lines file, fsynced) and acknowledged: no message
  can hold a slot of the broker's in-flight window for good.

`stats` counts what happened: besides messages and their fates, `failures` (failed writes),
`warehouse_waits` (pauses to probe the warehouse; a bad message never causes one) and
`resumed_on_probe` (pauses ended by a probe succeeding after failing, i.e. the warehouse came back).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ingest import readiness
from ingest.dead_letter import DeadLetters, default_path
from ingest.validation import stored_payload
from ingest.writer import BatchResult, IngestWriter, Message, utc_now
from queries.engine.warehouse import WarehouseUnavailable
from queries.imports import ingest_store

logger = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0  # only while the warehouse answers probes but refuses writes
PROBE_INTERVAL_S = 0.25
PROBE_TIMEOUT_S = 2.0


class IngestService:
    def __init__(self, writer: IngestWriter, *, batch_max: int = 2000, batch_wait_ms: int = 10,
                 on_commit: Callable[[list[Message], BatchResult], None] | None = None,
                 queue_max: int = 200_000, dead_letter_path: Path | str | None = None):
        self.writer = writer
        self.dead_letters = DeadLetters(dead_letter_path or default_path(writer.wh.url))
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_ms / 1000.0
        self.on_commit = on_commit
        self.queue: queue.Queue[Message] = queue.Queue(maxsize=queue_max)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"messages": 0, "inserted": 0, "duplicates": 0, "quarantined": 0, "batches": 0,
                      "excursion_changes": 0, "failures": 0, "dead_lettered": 0,
                      "warehouse_waits": 0, "resumed_on_probe": 0}
        self.last_commit_at = None
        self.last_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> IngestService:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> int:
        """Finish the batch being written, then stop. Returns how many queued messages were left
        unwritten and unacknowledged (the broker re-delivers them to the next session)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        left = 0
        while True:
            try:
                self.queue.get_nowait()
                left += 1
            except queue.Empty:
                return left

    def submit(self, message: Message) -> None:
        """Called by the MQTT network thread or the simulator; blocks when the queue is full."""
        self.queue.put(message)

    # -- the worker ------------------------------------------------------------------------
    def _next_batch(self) -> list[Message]:
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            try:
                batch.append(self.queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self.queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if batch:
                self.write(batch)

    def write(self, batch: list[Message]) -> BatchResult | None:
        """Write one batch (retrying while the warehouse is down), then acknowledge it."""
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                result = self.writer.write(batch)
                break
            except WarehouseUnavailable as exc:
                self._failed(exc)
                came_back = self._wait_for_warehouse(backoff)
                if came_back is None:
                    return None  # stopping: leave the batch unacknowledged for re-delivery
                backoff = FIRST_BACKOFF_S if came_back else min(backoff * 2, MAX_BACKOFF_S)
            except Exception as exc:
                self._failed(exc)
                if len(batch) == 1:
                    result = self._quarantine_failed(batch[0], exc)
                    if result is None:
                        return None
                    break
                for one in batch:
                    self.write([one])
                return None
        self._committed(batch, result)
        return result

    def _wait_for_warehouse(self, backoff: float) -> bool | None:
        """After a WarehouseUnavailable: probe every PROBE_INTERVAL_S. True as soon as a probe succeeds
        after one failed (the warehouse is back: write now); False when probes succeed throughout and
        `backoff` has passed (it answers but refuses writes); None when the service is stopping."""
        self.stats["warehouse_waits"] += 1
        deadline = time.monotonic() + backoff
        down_since = None
        while not self._stop.wait(PROBE_INTERVAL_S):
            problem = readiness.probe(self.writer.wh, PROBE_TIMEOUT_S)
            if problem is not None:
                if down_since is None:
                    down_since = time.monotonic()
                    logger.warning("%s; probing every %g s", problem, PROBE_INTERVAL_S)
                continue
            if down_since is not None:
                logger.warning("warehouse answers again after %.1f s; writing", time.monotonic() - down_since)
                self.stats["resumed_on_probe"] += 1
                return True
            if time.monotonic() >= deadline:
                return False
        return None

    def _failed(self, exc: Exception) -> None:
        self.stats["failures"] += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        logger.error("ingest batch failed: %s", self.last_error)

    def _quarantine_failed(self, message: Message, exc: Exception) -> BatchResult | None:
        """Quarantine a message that failed alone; if that fails too, dead-letter it. None: stopping."""
        reason = f"write_failed: {type(exc).__name__}: {str(exc)[:300]}"
        columns = {"received_at": [message.received_at], "topic": [message.topic],
                   "payload": [stored_payload(message.payload)], "reason": [reason]}
        while True:
            try:
                with self.writer.wh.transaction() as conn:
                    ingest_store.quarantine(self.writer.wh, conn, columns)
                return BatchResult(messages=1, inserted=0, duplicates=0, quarantined=1)
            except WarehouseUnavailable as down:  # an outage, not the message: retry once it is back
                self._failed(down)
                if self._wait_for_warehouse(FIRST_BACKOFF_S) is None:
                    return None
            except Exception as again:
                self._failed(again)
                refused = f"quarantine_failed: {type(again).__name__}: {str(again)[:300]}"
                break
        record = self.dead_letters.record(topic=message.topic, payload=message.payload,
                                          received_at=message.received_at, reason=f"{reason}; {refused}",
                                          now=utc_now())
        self.dead_letters.append(record)
        return BatchResult(messages=1, inserted=0, duplicates=0, quarantined=0, dead_lettered=1)

    def _committed(self, batch: list[Message], result: BatchResult) -> None:
        for message in batch:  # after the commit, never before
            if message.ack is not None:
                message.ack()
        self.stats["messages"] += result.messages
        self.stats["inserted"] += result.inserted
        self.stats["duplicates"] += result.duplicates
        self.stats["quarantined"] += result.quarantined
        self.stats["dead_lettered"] += result.dead_lettered
        self.stats["excursion_changes"] += len(result.changes)
        self.stats["batches"] += 1
        self.last_commit_at = result.committed_at
        if self.on_commit is not None:
            self.on_commit(batch, result)
