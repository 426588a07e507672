"""Cached answers of hot query functions, keyed by function, arguments, scope and data version.

A key holds everything an answer depends on: the function's name, the scope (sites, network row,
window: not who asks), every other argument, and the version of the data domains it reads (queries/engine/data_version.py).
New data changes the version, so later calls miss and recompute: nothing is ever deleted by hand and
no process has to tell another. Entries also expire after ``ttl_s``.

The window's end is "now" on a live page, different on every call. With caching on, a scope's window
is moved back to the start of its ``window_s`` slot (default 60 s: 12:00:00 for a call at 12:00:42),
and the answer is computed for that window: every request in the same slot shares one answer, in every
worker. A cached page is therefore at most ``window_s`` behind the clock, never behind the data.

Backends are cachelib-style objects (get/set/add/delete), as Flask-Caching builds them: Redis when
ATMP_REDIS_URL is set (shared by every gunicorn worker), an in-process SimpleCache otherwise. Values
are pickled by the backend; the Redis server must be one only the hub can reach (127.0.0.1). When the
backend fails, the answer is computed as if there were no cache: a cache never breaks a page.

Concurrent misses of one key compute once: the first caller takes a short lock entry (``add``), the
others wait for its answer (100 wall displays asking for the same overview after new data arrive).

Refresh behind (``refresh_behind``, on in the app): when a key misses only because sensor measurements
moved on (the ``measurements`` version, at most every 5 minutes) or the window's slot did (every
``window_s``), the newest answer to the same question (same function, arguments, scope sites and window
length, quality version, and a window end at most two slots earlier) is returned at once and the new one
is computed by a background thread of the process; the next call gets it. Those answers are at most one
recomputation (seconds) behind the sensors. Quality data (imports, acknowledgements, batches...) and live
tiles never take this path: after them the first caller computes, as before. A request that was answered
so is marked (``mark_request``) and its whole response is not cached (dashboard/response_cache.py).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from queries.engine import data_version
from queries.engine.scope import Scope

if TYPE_CHECKING:
    from queries.engine.warehouse import Warehouse

logger = logging.getLogger(__name__)

T = TypeVar("T")
VERSION_MEMO_S = 0.5  # a process re-reads the data versions at most this often (its own writes: at once)
LOCK_S = 30.0  # longest a caller waits for another's computation of the same key
POLL_S = 0.02
_MISSING = object()
REFRESH_SLOTS = 2  # a previous answer serves while refreshing if its window ended at most this many slots ago


class ServedPrevious:
    """Set when a call of the request was answered with a previous answer (see ``mark_request``)."""

    value = False


# The request's marker: a mutable box, so calls in worker threads given a copy of the context mark it too.
_served: ContextVar[ServedPrevious | None] = ContextVar("atmp_served_previous", default=None)
_in_refresh: ContextVar[bool] = ContextVar("atmp_in_refresh", default=False)


def mark_request() -> ServedPrevious:
    """A fresh marker for the current request (context): ``.value`` tells afterwards whether any cached
    call in it was answered with a previous answer."""
    box = ServedPrevious()
    _served.set(box)
    return box


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    waits: int = 0
    errors: int = 0
    uncached: int = 0
    previous: int = 0  # answered with the newest previous answer while a background refresh runs
    refreshed: int = 0


@dataclass
class ResultCache:
    """One per warehouse and process; `call` is the only way in."""

    backend: Any
    namespace: str
    ttl_s: int = 300
    window_s: int = 60
    refresh_behind: bool = False
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self):
        self._memo: tuple[float, dict[str, str] | None] | None = None
        self._memo_lock = threading.Lock()
        self._local_locks: dict[str, threading.Lock] = {}
        self._local_guard = threading.Lock()
        self._refreshing: dict[str, Future] = {}
        self._refresher: ThreadPoolExecutor | None = None
        data_version.on_change(self._forget_versions)

    # -- the one entry point -------------------------------------------------------------------
    def call(self, wh: Warehouse, name: str, domains: tuple[str, ...], fn: Callable[..., T],
             *args, **kwargs) -> T:
        versions = self.versions(wh)
        if versions is None:
            self.stats.uncached += 1
            return fn(wh, *args, **kwargs)
        args = tuple(self.slot(a) for a in args)
        kwargs = {k: self.slot(v) for k, v in kwargs.items()}
        key = self.key(name, [versions[d] for d in domains], args, kwargs)
        value = self._get(key)
        if value is not _MISSING:
            self.stats.hits += 1
            return value
        latest, end = None, _window_end(args, kwargs)
        # A background refresh computes everything it needs afresh: never a previous answer inside it.
        if (self.refresh_behind and end is not None and data_version.LIVE not in domains
                and not _in_refresh.get()):
            latest = self.key(name + ":latest", [versions[d] for d in domains if d != data_version.MEASUREMENTS],
                              tuple(_window_shape(a) for a in args),
                              {k: _window_shape(v) for k, v in kwargs.items()})
            previous = self._get(latest)
            if (previous is not _MISSING
                    and timedelta(0) <= end - previous[0] <= timedelta(seconds=REFRESH_SLOTS * self.window_s)):
                self._refresh(key, latest, end, lambda: fn(wh, *args, **kwargs))
                self.stats.previous += 1
                if (box := _served.get()) is not None:
                    box.value = True
                return previous[1]
        value = self._compute_once(key, lambda: fn(wh, *args, **kwargs))
        if latest is not None:
            self._set(latest, (end, value))
        return value

    # -- refresh behind ------------------------------------------------------------------------
    def _refresh(self, key: str, latest: str, end: datetime, compute: Callable[[], T]) -> None:
        """Compute ``key`` in this process's background thread (once per key at a time)."""
        def run():
            _in_refresh.set(True)  # the executor's thread: only refreshes run in it
            try:
                self._set(latest, (end, self._compute_once(key, compute)))
                self.stats.refreshed += 1
            except Exception as exc:  # the next call computes it in the foreground and shows the error
                logger.warning("background refresh of %s failed: %s: %s", key, type(exc).__name__, exc)
            finally:
                with self._local_guard:
                    self._refreshing.pop(key, None)

        with self._local_guard:
            if key in self._refreshing:
                return
            if self._refresher is None:  # one thread: refreshes queue up instead of taking both cores
                self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atmp-refresh")
            self._refreshing[key] = self._refresher.submit(run)

    def drain(self, timeout: float = 60.0) -> None:
        """Wait for the background refreshes queued so far (tests, benchmarks)."""
        with self._local_guard:
            pending = list(self._refreshing.values())
        for future in pending:
            future.result(timeout=timeout)

    # -- keys ----------------------------------------------------------------------------------
    def slot(self, value):
        """A scope's window moved back to the start of its slot; anything else unchanged."""
        if not isinstance(value, Scope) or self.window_s <= 0:
            return value
        end = value.end
        floored = datetime.fromtimestamp((end.timestamp() // self.window_s) * self.window_s, tz=end.tzinfo) \
            if end.tzinfo else _floor_naive(end, self.window_s)
        shift = end - floored
        return replace(value, start=value.start - shift, end=floored) if shift else value

    def key(self, name: str, versions: list[str], args: tuple, kwargs: dict) -> str:
        parts = [_key_part(a) for a in args] + [f"{k}={_key_part(v)}" for k, v in sorted(kwargs.items())]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
        return f"atmp:{self.namespace}:{name}:{'.'.join(versions)}:{digest}"

    def versions(self, wh: Warehouse) -> dict[str, str] | None:
        now = time.monotonic()
        memo = self._memo
        if memo is not None and now - memo[0] < VERSION_MEMO_S:
            return memo[1]
        versions = data_version.current(wh)
        with self._memo_lock:
            self._memo = (now, versions)
        return versions

    def _forget_versions(self, _wh=None) -> None:
        self._memo = None

    # -- backend, failures contained -----------------------------------------------------------
    def _get(self, key: str):
        try:
            value = self.backend.get(key)
        except Exception as exc:
            self._failed("get", exc)
            return _MISSING
        return _MISSING if value is None else value

    def _set(self, key: str, value) -> None:
        try:
            self.backend.set(key, value, timeout=self.ttl_s)
        except Exception as exc:
            self._failed("set", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        self.stats.errors += 1
        if self.stats.errors in (1, 10, 100) or self.stats.errors % 1000 == 0:
            logger.warning("result cache %s failed (%s: %s); answering uncached", what, type(exc).__name__, exc)

    def _compute_once(self, key: str, compute: Callable[[], T]) -> T:
        with self._local_guard:
            local = self._local_locks.setdefault(key, threading.Lock())
        with local:  # threads of this process: one computes, the others find its answer
            value = self._get(key)
            if value is not _MISSING:
                self.stats.hits += 1
                return value
            lock_key = f"{key}:lock"
            try:
                owner = self.backend.add(lock_key, 1, timeout=int(LOCK_S))
            except Exception as exc:
                self._failed("lock", exc)
                owner = True
            if not owner:  # another process computes it: wait for its answer, within reason
                value = self._wait(key, lock_key)
                if value is not _MISSING:
                    self.stats.waits += 1
                    return value
            self.stats.misses += 1
            try:
                value = compute()
                self._set(key, value)
            finally:
                if owner:
                    try:
                        self.backend.delete(lock_key)
                    except Exception as exc:
                        self._failed("unlock", exc)
                with self._local_guard:
                    self._local_locks.pop(key, None)
            return value

    def _wait(self, key: str, lock_key: str):
        deadline = time.monotonic() + LOCK_S
        while time.monotonic() < deadline:
            time.sleep(POLL_S)
            value = self._get(key)
            if value is not _MISSING:
                return value
            try:
                if self.backend.get(lock_key) is None:  # the other one gave up (error): compute here
                    return _MISSING
            except Exception:
                return _MISSING
        return _MISSING


def _window_shape(value):
    """A scope without where its window ends (its length kept): the key of the newest answer."""
    if isinstance(value, Scope):
        return replace(value, start=datetime(1970, 1, 1), end=datetime(1970, 1, 1) + (value.end - value.start))
    return value


def _window_end(args: tuple, kwargs: dict) -> datetime | None:
    """The window end of the call's scope; None without one (such calls never refresh behind)."""
    scopes = [v for v in (*args, *kwargs.values()) if isinstance(v, Scope)]
    return scopes[0].end if len(scopes) == 1 else None


def _floor_naive(end: datetime, window_s: int) -> datetime:
    epoch = datetime(1970, 1, 1)
    seconds = (end - epoch) // timedelta(seconds=1)
    return epoch + timedelta(seconds=seconds - seconds % window_s)


def _key_part(value) -> str:
    if isinstance(value, Scope):
        # Neither the user nor the role: a query's answer depends on the scope's sites, network row and
        # window alone (no query reads the role: tests/test_cache.py), so a leader, an auditor and a wall
        # display of the same sites share it. Whole responses, which do differ by role, key on it
        # (dashboard/response_cache.py).
        return (f"scope(sites={','.join(value.site_ids)},network={value.network},"
                f"start={value.start.isoformat()},end={value.end.isoformat()})")
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_key_part(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_key_part(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (str, int, float, bool, datetime)) or value is None:
        return repr(value)
    if hasattr(value, "__dataclass_fields__"):
        return repr(value)  # frozen parameter objects (e.g. DriftParameters)
    raise TypeError(f"cannot key a cached call on {type(value).__name__}")


# -- which cache serves which warehouse (set by the app; none: every call is computed) ----------------
_REGISTRY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def register(wh: Warehouse, cache: ResultCache | None) -> None:
    if cache is None:
        _REGISTRY.pop(wh, None)
    else:
        _REGISTRY[wh] = cache


def for_warehouse(wh: Warehouse) -> ResultCache | None:
    return _REGISTRY.get(wh)


def cached(name: str, domains: tuple[str, ...] = (data_version.QUALITY,)):
    """Decorator for query functions `fn(wh, *args)`: answered from the warehouse's cache when one is
    registered for it, computed directly otherwise (CLI, tests without an app)."""
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def wrapper(wh, *args, **kwargs):
            cache = _REGISTRY.get(wh)
            if cache is None:
                return fn(wh, *args, **kwargs)
            return cache.call(wh, name, domains, fn, *args, **kwargs)
        wrapper.uncached = fn
        return wrapper
    return decorate


def namespace_for(wh: Warehouse) -> str:
    """Different warehouses (URLs) never share keys, even in one Redis."""
    return hashlib.sha1(wh.safe_url().encode()).hexdigest()[:10]
