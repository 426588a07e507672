"""A small thread-safe cache with a time to live, for analyses that read history up to a whole hour."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


class TtlCache(Generic[T]):
    """At most ``size`` entries, each for ``seconds``. Keys must hold everything the value depends on
    (the warehouse URL and the scope's sites and window among them), so one user never gets another's."""

    # A cachelib-style backend shared by every worker (Redis), set by the app (dashboard/caching.py):
    # then an answer computed in one gunicorn worker is found by the others instead of recomputed.
    shared = None

    def __init__(self, size: int = 8, seconds: float = 600.0, *, share: bool = True):
        self.size, self.seconds, self.share = size, seconds, share
        self._items: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.seconds:
                self._items.move_to_end(key)
                return hit[1]
        shared_key = _shared_key(key) if self.share and TtlCache.shared is not None else None
        value = _shared_get(shared_key)
        if value is None:
            value = compute()  # outside the lock: two threads may compute the same key once each
            _shared_set(shared_key, value, self.seconds)
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _shared_key(key: Hashable) -> str:
    return "atmp:ttl:" + hashlib.sha256(repr(key).encode()).hexdigest()[:40]


def _shared_get(shared_key: str | None):
    if shared_key is None:
        return None
    try:
        return TtlCache.shared.get(shared_key)
    except Exception as exc:  # the shared store failing only means computing here
        logger.warning("shared TTL cache get failed: %s", exc)
        return None


def _shared_set(shared_key: str | None, value, seconds: float) -> None:
    if shared_key is None:
        return
    try:
        TtlCache.shared.set(shared_key, value, timeout=int(seconds))
    except Exception as exc:
        logger.warning("shared TTL cache set failed: %s", exc)
