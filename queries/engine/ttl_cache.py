"""A process's own short-lived answers to "is this user / display token still active?" (cachetools).

Only for facts every request re-checks and a change through this process forgets at once; answers to
questions about data go through the result cache (queries/engine/result_cache.py), which keys on the data
version."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

T = TypeVar("T")
_MISSING = object()  # an answer may be None (no such user)


class RecentAnswers(Generic[T]):
    """At most ``size`` answers, each for ``seconds``, safe to share between a process's threads."""

    def __init__(self, size: int, seconds: float, timer: Callable[[], float] = time.monotonic):
        self._items: TTLCache = TTLCache(maxsize=size, ttl=seconds, timer=timer)
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            # One lookup: "in" then "[]" could see the entry expire in between (a KeyError under load).
            found = self._items.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = compute()  # outside the lock: a slow read does not hold up other keys
        with self._lock:
            self._items[key] = value
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)
