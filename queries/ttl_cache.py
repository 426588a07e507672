"""A small thread-safe cache with a time to live, for analyses that read history up to a whole hour."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    """At most ``size`` entries, each for ``seconds``. Keys must hold everything the value depends on
    (the warehouse URL and the scope's sites and window among them), so one user never gets another's."""

    def __init__(self, size: int = 8, seconds: float = 600.0):
        self.size, self.seconds = size, seconds
        self._items: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.seconds:
                self._items.move_to_end(key)
                return hit[1]
        value = compute()  # outside the lock: two threads may compute the same key once each
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
