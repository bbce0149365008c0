"""An in-process LRU of baseline results, so repeated profile reads stay within their latency.

A profile's baselines take a handful of store reads over 45 days of hourly counts plus a fit;
an analyst paging through a profile (or the API batching panels) asks for the same ones again
and again. Results are immutable, so a cached one can be handed to any number of callers.

The key says everything a result depends on: the store (its URI), the graph, what was computed
(`kind`, e.g. "api" or "flow"), the entity, the scope, the configuration, and a data version.
The data version is the caller's (the API may pass a counter it bumps after every load), or by
default the entity's first and last observed times: new activity of the entity moves its last
observed time and so misses the cache. A backfill of old hours inside the span already observed
does not move them; `ttl_seconds` bounds how long such a result can be served (5 minutes by
default), and `clear()` drops everything (e.g. after a load).

The cache is owned by its user (the API creates one per process, in its lifespan) and is safe to
share between threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from baselines.config import BaselineConfig
from graph.model import VertexRef

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CacheKey:
    store: str  # the store's URI
    graph: str
    kind: str
    entity: VertexRef
    start: int
    end: int
    config: BaselineConfig
    version: Hashable


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    size: int


class BaselineCache:
    """Least-recently-used, bounded in entries and in age."""

    def __init__(
        self,
        maxsize: int = 2048,
        *,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be a positive int, got {maxsize!r}")
        if not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds!r}")
        self.maxsize = maxsize
        self.ttl = ttl_seconds
        self._clock = clock
        self._items: OrderedDict[CacheKey, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: CacheKey) -> object | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or self._clock() - item[0] > self.ttl:
                if item is not None:
                    del self._items[key]
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return item[1]

    def now(self) -> float:
        """The cache's clock (what `peek`'s `put_before` compares with)."""
        return self._clock()

    def peek(self, key: CacheKey, *, put_before: float | None = None) -> object | None:
        """The cached value of `key` if there is a fresh one, without counting a hit or a miss
        or refreshing its place (for readers that can do without it). `put_before`: only an
        entry put before then (`now()`), e.g. before the reader's request started, so that
        what the reader sees does not depend on whether work running beside it finished."""
        with self._lock:
            item = self._items.get(key)
            if item is None or self._clock() - item[0] > self.ttl:
                return None
            if put_before is not None and item[0] >= put_before:
                return None
            return item[1]

    def put(self, key: CacheKey, value: object) -> None:
        with self._lock:
            self._items[key] = (self._clock(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def get_or_compute(self, key: CacheKey, compute: Callable[[], T], kind: type[T]) -> T:
        """The cached value of `key`, else `compute()` (outside the lock: two threads may
        compute the same value once each, which is cheaper than serializing all fits)."""
        found = self.get(key)
        if isinstance(found, kind):
            return found
        value = compute()
        self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._items))
