"""Does the warehouse answer? A trivial query (queries/sql/ping.sql) with a deadline.

Used by the ingest service to resume as soon as the warehouse is back after an outage (instead of
waiting out a long backoff) and by `/readyz`. The query runs in a helper thread so the caller never
waits longer than the deadline, even when a connection attempt hangs (a host that drops packets);
at most one probe per warehouse is in flight, so repeated calls during such a hang start no more
connection attempts. The reason returned says what kind of failure it was and never contains the
URL, host, database or user name.
"""

from __future__ import annotations

import threading
import time
import weakref

from queries.engine.warehouse import Warehouse, WarehouseUnavailable

DEFAULT_TIMEOUT_S = 2.0

# Driver messages (lower-cased) -> what a probe may say about them.
_KNOWN = (
    ("connection refused", "connection refused"),
    ("not currently accepting connections", "the database does not accept connections"),
    ("does not allow connections", "the database does not accept connections"),
    ("the database system is starting up", "the database is starting up"),
    ("the database system is shutting down", "the database is shutting down"),
    ("too many clients", "the database has no free connections"),
    ("password authentication failed", "authentication failed"),
    ("does not exist", "the database does not exist"),
    ("statement timeout", "the query timed out"),
    ("could not set lock", "the warehouse file is locked by another process"),
    ("unable to open", "the warehouse file cannot be opened"),
    ("cannot open file", "the warehouse file cannot be opened"),
    ("read-only", "the warehouse is read-only"),
    ("no space left", "no space left on the warehouse's disk"),
    ("timeout expired", "the connection timed out"),
    ("timed out", "the connection timed out"),
)

_lock = threading.Lock()
_inflight: weakref.WeakKeyDictionary[Warehouse, tuple[threading.Thread, dict]] = weakref.WeakKeyDictionary()
_recent: weakref.WeakKeyDictionary[Warehouse, tuple[float, str | None]] = weakref.WeakKeyDictionary()


def _describe(exc: Exception) -> str:
    lowered = str(exc).lower()
    for needle, said in _KNOWN:
        if needle in lowered:
            return f"warehouse unavailable: {said}"
    if isinstance(exc, WarehouseUnavailable):
        return "warehouse unavailable"
    return f"warehouse query failed ({type(exc).__name__})"


def _ping(wh: Warehouse, outcome: dict) -> None:
    try:
        wh.query("sql/ping")
        outcome["problem"] = None
    except Exception as exc:  # any failure is an answer: not ready, and why
        outcome["problem"] = _describe(exc)


def probe(wh: Warehouse, timeout_s: float = DEFAULT_TIMEOUT_S, *, max_age_s: float = 0.0) -> str | None:
    """None when `SELECT 1` succeeds within `timeout_s`; otherwise why not. With `max_age_s`, an
    answer at most that old is reused (a public endpoint must not become a load generator)."""
    with _lock:
        if max_age_s > 0 and wh in _recent:
            at, problem = _recent[wh]
            if time.monotonic() - at <= max_age_s:
                return problem
        running = _inflight.get(wh)
        if running is not None and running[0].is_alive():
            thread, outcome = running  # wait for the probe already under way instead of starting one
        else:
            outcome = {}
            thread = threading.Thread(target=_ping, args=(wh, outcome), name="warehouse-probe", daemon=True)
            _inflight[wh] = (thread, outcome)
            thread.start()
    thread.join(timeout_s)
    if thread.is_alive() or "problem" not in outcome:
        problem = f"warehouse unavailable: no answer within {timeout_s:g} s"
    else:
        problem = outcome["problem"]
    with _lock:
        _recent[wh] = (time.monotonic(), problem)
    return problem
