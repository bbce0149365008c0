"""The in-process LRU of baseline results, and the scope and training-notice helpers."""

from __future__ import annotations

import threading

import pytest

from baselines.cache import BaselineCache, CacheKey
from baselines.config import BaselineConfig
from baselines.window import check_scope, training_notice
from graph.model import USER, VertexRef

DAY = 86_400
SCOPE = 1_745_452_800


def key(n: int, config: BaselineConfig | None = None) -> CacheKey:
    ref = VertexRef(USER, f"AIDA{n}")
    return CacheKey("sqlite:///x.db", "g", "api", ref, 0, 3600, config or BaselineConfig(), None)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_entries_go_first() -> None:
    cache = BaselineCache(2)
    cache.put(key(1), "one")
    cache.put(key(2), "two")
    assert cache.get(key(1)) == "one"  # 1 is now the most recent
    cache.put(key(3), "three")
    assert cache.get(key(2)) is None
    assert cache.get(key(1)) == "one" and cache.get(key(3)) == "three"
    assert cache.stats.size == 2 and cache.stats.hits == 3 and cache.stats.misses == 1


def test_entries_expire() -> None:
    clock = Clock()
    cache = BaselineCache(8, ttl_seconds=10, clock=clock)
    cache.put(key(1), "one")
    clock.now = 9.5
    assert cache.get(key(1)) == "one"
    clock.now = 10.5
    assert cache.get(key(1)) is None and cache.stats.size == 0


def test_the_configuration_is_part_of_the_key() -> None:
    cache = BaselineCache(8)
    cache.put(key(1), "default")
    assert cache.get(key(1, BaselineConfig(tail_probability=0.01))) is None
    assert cache.get(key(1, BaselineConfig())) == "default"


def test_get_or_compute_computes_once_per_key() -> None:
    cache = BaselineCache(8)
    computed: list[int] = []

    def compute() -> str:
        computed.append(1)
        return "value"

    threads = [
        threading.Thread(target=lambda: cache.get_or_compute(key(1), compute, str))
        for _ in range(8)
    ]
    cache.get_or_compute(key(1), compute, str)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert computed == [1]
    cache.clear()
    assert cache.get_or_compute(key(1), compute, str) == "value" and len(computed) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"maxsize": 0}, "maxsize"), ({"maxsize": 4, "ttl_seconds": 0}, "ttl_seconds")],
)
def test_bad_cache_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BaselineCache(**kwargs)  # type: ignore[arg-type]


def test_training_notice_counts_history_inside_the_window_only() -> None:
    config = BaselineConfig()
    assert training_notice(SCOPE - 20 * DAY, SCOPE, config) is None
    assert training_notice(SCOPE - 400 * DAY, SCOPE, config) is None
    young = training_notice(SCOPE - 13 * DAY - 1800, SCOPE, config)
    assert young is not None and young.history_days == pytest.approx(13 + 1 / 24)
    assert young.required_days == 14 and "13.0 days" in young.message
    later = training_notice(SCOPE + 5 * 3600, SCOPE, config)  # first seen inside the scope
    assert later is not None and later.history_days == 0
    assert training_notice(SCOPE - DAY, SCOPE, BaselineConfig(min_training_days=0)) is None


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (SCOPE, SCOPE + 1800, "not on the hour"),
        (SCOPE, SCOPE - 3600, "must be after"),
        (SCOPE, SCOPE + 367 * DAY, "longer than one year"),
        (float(SCOPE), SCOPE + DAY, "epoch seconds"),
    ],
)
def test_bad_scopes(start: int, end: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_scope(start, end)
    check_scope(SCOPE, SCOPE + 366 * DAY)


def test_peek_neither_counts_nor_refreshes_and_expires() -> None:
    clock = Clock()
    cache = BaselineCache(2, ttl_seconds=10, clock=clock)
    cache.put(key(1), "one")
    cache.put(key(2), "two")
    assert cache.peek(key(1)) == "one" and cache.peek(key(3)) is None
    assert (cache.stats.hits, cache.stats.misses) == (0, 0)
    cache.put(key(3), "three")  # 1 was only peeked at: still the least recent, so it goes
    assert cache.peek(key(1)) is None and cache.peek(key(2)) == "two"
    clock.now = 11
    assert cache.peek(key(2)) is None


def test_peek_can_ignore_entries_put_since_a_moment() -> None:
    clock = Clock()
    cache = BaselineCache(8, ttl_seconds=100, clock=clock)
    cache.put(key(1), "earlier")
    clock.now = 5
    started = cache.now()
    assert started == 5
    cache.put(key(2), "meanwhile")  # put at the moment itself: not before it
    clock.now = 6
    cache.put(key(3), "later")
    assert cache.peek(key(1), put_before=started) == "earlier"
    assert cache.peek(key(2), put_before=started) is None
    assert cache.peek(key(3), put_before=started) is None
    assert cache.peek(key(3)) == "later"
