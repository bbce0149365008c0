"""Garbage collection between requests, not inside them.

A cold profile allocates a few hundred thousand objects, nearly all freed by reference counting
once its response is sent. Left to the interpreter, the collections they set off run in the
middle of requests and walk whatever those still hold: tens of milliseconds each at
`gumshoe serve`'s young threshold of 50,000, and a full collection walks the baseline cache too
(hundreds of milliseconds). Run right after a response, the same collections find little to
walk. Interleaved A/B of cold profiles on the 10-million-event graph, p99 before -> after: the
busiest account 109.6 -> 63.7 ms (24 h) and 183.8 -> 115.2 ms (45 days), p50 unchanged.

The interpreter's own collections stay on as a safety net (a single request past 50,000 net
allocations still triggers one), and so does its rule for full collections; only when none has
run for `FULL_EVERY` seconds is one run between requests, so that cyclic garbage in the old
generation is reclaimed on a server whose requests never reach the threshold.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

# net allocations since the last young collection that make one worth running after a response
YOUNG = 5_000
FULL_EVERY = 300.0  # seconds
# the interpreter's own young threshold: its collections become the exception, not the rule
THRESHOLD = 50_000


def configure() -> None:
    """The server's thresholds. At the default young threshold (700) a cold profile set off
    hundreds of young collections, promoting what it still held into the old generations, whose
    full collections then walked the baseline cache as well: 37 of them, up to 280 ms each, in
    one run of bench.graphql_profile (its p99). At 50,000 the same run had none."""
    gc.set_threshold(THRESHOLD, 10, 10)  # the middle and old ones as the interpreter's


class Collector:
    """Decides, after each response, which collection is due (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._full_seen = gc.get_stats()[2]["collections"]
        self._full_at = clock()

    def __call__(self) -> int | None:
        """Run the collection that is due; its generation, or None."""
        full = gc.get_stats()[2]["collections"]
        if full != self._full_seen:  # the interpreter ran one since
            self._full_seen, self._full_at = full, self._clock()
        young, middle, old = gc.get_count()
        _, middle_threshold, old_threshold = gc.get_threshold()
        generation: int | None = None
        if old > old_threshold and self._clock() - self._full_at >= FULL_EVERY:
            generation = 2
        elif young >= YOUNG:
            # a young collection counts towards the middle generation's, as in the interpreter
            generation = 1 if middle + 1 > middle_threshold else 0
        if generation is None:
            return None
        gc.collect(generation)
        if generation == 2:
            self._full_seen, self._full_at = gc.get_stats()[2]["collections"], self._clock()
        return generation


class CollectBetweenRequests:
    """ASGI wrapper running the `Collector` after each HTTP response."""

    def __init__(self, app: ASGIApp, collector: Collector | None = None) -> None:
        self.app = app
        self.collector = collector or Collector()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and gc.isenabled():
            self.collector()
