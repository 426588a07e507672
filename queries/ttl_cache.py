"""A process's own short-lived answers to "is this user / display token still active?" (cachetools).

Only for facts every request re-checks and a change through this process forgets at once; answers to
questions about data go through the result cache (queries/result_cache.py), which keys on the data
version."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

T = TypeVar("T")


class RecentAnswers(Generic[T]):
    """At most ``size`` answers, each for ``seconds``, safe to share between a process's threads."""

    def __init__(self, size: int, seconds: float):
        self._items: TTLCache = TTLCache(maxsize=size, ttl=seconds)
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                return self._items[key]
        value = compute()  # outside the lock: a slow read does not hold up other keys
        with self._lock:
            self._items[key] = value
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)
