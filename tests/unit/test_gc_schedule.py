"""Collections between requests (api/gc_schedule.py): which one runs after a response."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from api import gc_schedule
from api.gc_schedule import CollectBetweenRequests, Collector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def no_automatic_collection() -> Iterator[None]:
    """Counts move only by what the test allocates and collects (automatic collections would
    reset them under the test's feet)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _allocate(n: int) -> list[list[int]]:
    return [[i] for i in range(n)]  # n tracked containers, kept alive by the caller


def _collections() -> list[int]:
    return [s["collections"] for s in gc.get_stats()]


@pytest.mark.usefixtures("no_automatic_collection")
def test_young_collection_only_past_the_threshold() -> None:
    collect = Collector(Clock())
    gc.collect(0)
    kept = _allocate(gc_schedule.YOUNG // 2)
    before = _collections()
    assert collect() is None and _collections() == before
    kept += _allocate(gc_schedule.YOUNG)
    assert collect() in (0, 1)
    after = _collections()
    assert after[0] + after[1] > before[0] + before[1] and after[2] == before[2]
    assert gc.get_count()[0] < 100  # the young generation is empty again
    assert len(kept) == gc_schedule.YOUNG + gc_schedule.YOUNG // 2


@pytest.mark.usefixtures("no_automatic_collection")
def test_a_full_collection_only_when_none_ran_for_a_while() -> None:
    clock = Clock()
    collect = Collector(clock)
    threshold = gc.get_threshold()[1]
    # enough middle collections to make the old generation's count pass its threshold
    for _ in range(gc.get_threshold()[2] + 1):
        for _ in range(threshold + 1):
            gc.collect(0)
        gc.collect(1)
    assert gc.get_count()[2] > gc.get_threshold()[2]
    assert collect() != 2  # the last full collection is recent
    clock.now += gc_schedule.FULL_EVERY
    before = _collections()[2]
    assert collect() == 2 and _collections()[2] == before + 1
    assert collect() != 2  # and not again right after


def test_the_wrapper_collects_after_http_responses_only() -> None:
    runs: list[str] = []

    class Recording(Collector):
        def __call__(self) -> int | None:
            runs.append("collect")
            return None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        runs.append(scope["type"])

    wrapped = CollectBetweenRequests(app, Recording())

    async def noop(*_: Any) -> Any:
        return None

    asyncio.run(wrapped({"type": "http"}, noop, noop))
    asyncio.run(wrapped({"type": "lifespan"}, noop, noop))
    assert runs == ["http", "collect", "lifespan"]


def test_configure_raises_the_young_threshold_only() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        gc_schedule.configure()
        assert gc.get_threshold() == (gc_schedule.THRESHOLD, 10, 10)
    finally:
        gc.set_threshold(*saved)
