"""Cached answers of hot query functions, keyed by function, arguments, scope and data version.

A key holds everything an answer depends on: the function's name, the scope (role, sites, network,
window), every other argument, and the version of the data domains it reads (queries/data_version.py).
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
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from queries import data_version
from queries.scope import Scope

if TYPE_CHECKING:
    from queries.warehouse import Warehouse

logger = logging.getLogger(__name__)

T = TypeVar("T")
VERSION_MEMO_S = 0.5  # a process re-reads the data versions at most this often (its own writes: at once)
LOCK_S = 30.0  # longest a caller waits for another's computation of the same key
POLL_S = 0.02
_MISSING = object()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    waits: int = 0
    errors: int = 0
    uncached: int = 0


@dataclass
class ResultCache:
    """One per warehouse and process; `call` is the only way in."""

    backend: Any
    namespace: str
    ttl_s: int = 300
    window_s: int = 60
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self):
        self._memo: tuple[float, dict[str, str] | None] | None = None
        self._memo_lock = threading.Lock()
        self._local_locks: dict[str, threading.Lock] = {}
        self._local_guard = threading.Lock()
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
        return self._compute_once(key, lambda: fn(wh, *args, **kwargs))

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


def _floor_naive(end: datetime, window_s: int) -> datetime:
    epoch = datetime(1970, 1, 1)
    seconds = (end - epoch) // timedelta(seconds=1)
    return epoch + timedelta(seconds=seconds - seconds % window_s)


def _key_part(value) -> str:
    if isinstance(value, Scope):  # the user id is not part of it: two leaders share an answer
        return (f"scope(role={value.role},sites={','.join(value.site_ids)},network={value.network},"
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
