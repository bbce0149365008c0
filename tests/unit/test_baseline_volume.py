"""API call and VPC flow baselines read from a real SQLite store (hand-written graph)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from baselines.cache import BaselineCache
from baselines.config import BaselineConfig
from baselines.flow_volume import vpc_flow_baseline
from baselines.volume import (
    api_call_baseline,
    api_call_volume_baselines,
    dense,
)
from graph.batch import DeltaBuffer
from graph.model import API, CALLED, ENI, FLOW, HAS_INTERFACE, INSTANCE, USER, VertexRef
from graph.sqlite import SqliteStore
from graph.store import GraphInfo, GraphStore
from tests.conftest import GRAPH

H = 3600
DAY = 86_400
SCOPE = 1_745_452_800  # 2025-04-24 00:00 UTC, a Thursday
ALICE = VertexRef(USER, "AIDAALICE")
BOB = VertexRef(USER, "AIDABOB")  # first observed 5 days before the scope: in training
GET = VertexRef(API, "s3.amazonaws.com:GetObject")
LIST = VertexRef(API, "s3.amazonaws.com:ListBuckets")
PUT = VertexRef(API, "s3.amazonaws.com:PutObject")  # first called in the scope
I1 = VertexRef(INSTANCE, "i-0abc")
I2 = VertexRef(INSTANCE, "i-0def")  # no interface known: its own FLOW edges
E1 = VertexRef(ENI, "eni-01")
REMOTE = VertexRef("IpAddress", "203.0.113.9")
METHODS = [VertexRef(API, f"ec2.amazonaws.com:Describe{i}") for i in range(12)]


def _office(ts: int) -> float:
    hod = (ts // H) % 24
    return 1.0 if 8 <= hod < 18 else 0.1


def _build(store: GraphStore) -> None:
    rng = np.random.default_rng(7)
    buf = DeltaBuffer()
    buf.vertex(ALICE, SCOPE - 50 * DAY, None, {"name": "alice", "account": "111122223333"})
    for h in range(SCOPE - 50 * DAY, SCOPE + DAY, H):
        get, lst = rng.poisson(6 * _office(h)), rng.poisson(1 * _office(h))
        if h == SCOPE + 10 * H:
            get += 300  # the spike
        if get:
            buf.edge(
                CALLED, ALICE, GET, h + 60, (int(get) - get // 10, int(get // 10)), "198.51.100.7"
            )
        if lst:
            buf.edge(CALLED, ALICE, LIST, h + 120, (int(lst), 0), "198.51.100.7")
        if h >= SCOPE - 5 * DAY and (bob := rng.poisson(3)):
            buf.edge(CALLED, BOB, GET, h + 30, (int(bob), 0), "198.51.100.8")
        if rng.random() < 0.3:
            for m in METHODS:
                buf.edge(CALLED, ALICE, m, h + 200, (1, 0), "198.51.100.7")
        flow = int(rng.poisson(50 * _office(h))) * 1000
        buf.edge(FLOW, E1, REMOTE, h + 5, (flow, flow // 2, 10, 5), "6/443/51234/ingress/ACCEPT")
        buf.edge(FLOW, I2, REMOTE, h + 5, (flow // 4, 0, 1, 0), "6/443/51234/ingress/ACCEPT")
    buf.edge(CALLED, ALICE, PUT, SCOPE + 3 * H, (4, 0), "198.51.100.7")
    buf.edge(HAS_INTERFACE, I1, E1, SCOPE - 50 * DAY, (1,))
    store.write(buf.take(GRAPH, []))


class Counting:
    """A store that counts the reads it serves (the functions promise a fixed number)."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner = inner
        self.uri = inner.uri
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    s = SqliteStore(Path(tmp_path_factory.mktemp("volume")) / "graph.db")
    s.create_graph(GraphInfo(GRAPH, "111122223333", 1_700_000_000))
    _build(s)
    yield s
    s.close()


def test_buckets_carry_observed_counts_and_bounds(store: SqliteStore) -> None:
    result = api_call_baseline(
        store=store, graph=GRAPH, principal=ALICE, start=SCOPE, end=SCOPE + DAY
    )
    assert len(result.buckets) == 24 and result.buckets[5].start == SCOPE + 5 * H
    assert result.baseline_start == SCOPE - 45 * DAY and result.training is None
    spike = result.buckets[10]
    assert spike.success + spike.failed > 300
    assert spike.upper is not None and spike.success + spike.failed > spike.upper
    quiet = result.buckets[3]
    assert quiet.expected is not None and quiet.lower is not None and quiet.upper is not None
    assert quiet.lower <= quiet.expected <= quiet.upper
    assert quiet.failed_expected is not None and quiet.failed_upper is not None
    busy = result.buckets[12]
    # office hours (GET and LIST) on top of the flat block of twelve Describe* methods
    assert busy.expected is not None and busy.expected > 1.4 * quiet.expected


def test_increased_volume_lists_the_spiking_method_only(store: SqliteStore) -> None:
    result = api_call_baseline(
        store=store, graph=GRAPH, principal=ALICE, start=SCOPE, end=SCOPE + DAY
    )
    (increased,) = result.increased_volume
    assert increased.api == GET.key and increased.method == "GetObject"
    assert increased.observed > increased.upper > increased.expected
    assert increased.excess == pytest.approx(increased.observed - increased.upper)
    put = next(m for m in result.methods if m.api == PUT.key)
    assert not put.in_baseline and put.observed == 4  # new, not "increased"
    assert result.methods[0].api == GET.key  # most calls first
    assert {m.api for m in result.methods} >= {GET.key, LIST.key, PUT.key}


def test_small_increases_are_not_listed(store: SqliteStore) -> None:
    strict = BaselineConfig(min_increased_calls=10_000)
    result = api_call_baseline(
        store=store, graph=GRAPH, principal=ALICE, start=SCOPE, end=SCOPE + DAY, config=strict
    )
    spiking = next(m for m in result.methods if m.api == GET.key)
    assert spiking.observed > spiking.upper and result.increased_volume == ()


def test_a_fixed_number_of_store_reads_whatever_the_methods(store: SqliteStore) -> None:
    counting = Counting(store)
    api_call_baseline(
        store=counting,
        graph=GRAPH,
        principal=ALICE,
        start=SCOPE,
        end=SCOPE + DAY,
    )
    assert counting.calls == Counter({"vertices": 1, "series_by_other": 1})


def test_in_training_no_increased_volume_is_listed(store: SqliteStore) -> None:
    result = api_call_baseline(
        store=store, graph=GRAPH, principal=BOB, start=SCOPE, end=SCOPE + DAY
    )
    assert result.training is not None and result.training.history_days == pytest.approx(5.0)
    assert "In training" in result.training.message
    assert result.increased_volume == ()
    assert result.buckets[0].expected is not None  # the history there is still gives a baseline


def test_an_unknown_principal_has_counts_but_no_baseline(store: SqliteStore) -> None:
    ghost = VertexRef(USER, "AIDAGHOST")
    result = api_call_baseline(
        store=store, graph=GRAPH, principal=ghost, start=SCOPE, end=SCOPE + 2 * H
    )
    assert [(b.success, b.failed, b.expected, b.upper) for b in result.buckets] == [
        (0, 0, None, None),
        (0, 0, None, None),
    ]
    assert result.training is not None and result.training.history_start is None


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (SCOPE + 1, SCOPE + DAY, "not on the hour"),
        (SCOPE, SCOPE, "must be after its start"),
        (SCOPE, SCOPE + 400 * DAY, "longer than one year"),
    ],
)
def test_bad_scopes_are_rejected(store: SqliteStore, start: int, end: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        api_call_baseline(store=store, graph=GRAPH, principal=ALICE, start=start, end=end)


def test_many_principals_in_two_reads(store: SqliteStore) -> None:
    counting = Counting(store)
    out = api_call_volume_baselines(
        store=counting,
        graph=GRAPH,
        principals=[ALICE, BOB, VertexRef(USER, "AIDAGHOST")],
        start=SCOPE,
        end=SCOPE + DAY,
    )
    assert counting.calls == Counter({"vertices": 1, "series_by_other": 1})
    assert set(out) == {ALICE, BOB}
    single = api_call_baseline(
        store=store, graph=GRAPH, principal=ALICE, start=SCOPE, end=SCOPE + DAY
    )
    buckets, notice = out[ALICE]
    assert notice is None and out[BOB][1] is not None
    assert buckets == single.buckets


def test_instance_traffic_is_that_of_its_interfaces(store: SqliteStore) -> None:
    result = vpc_flow_baseline(store=store, graph=GRAPH, instance=I1, start=SCOPE, end=SCOPE + DAY)
    assert result.training is None and len(result.buckets) == 24
    b = result.buckets[12]
    assert b.bytes_in > 0 and b.bytes_out == b.bytes_in // 2
    assert b.expected_in is not None and b.upper_in is not None and b.expected_out is not None
    assert b.lower_in is not None and b.lower_in <= b.expected_in <= b.upper_in
    assert b.expected_in == pytest.approx(50_000, rel=0.2)
    own = vpc_flow_baseline(store=store, graph=GRAPH, instance=I2, start=SCOPE, end=SCOPE + DAY)
    assert own.buckets[12].bytes_in == b.bytes_in // 4 and own.buckets[12].bytes_out == 0


def test_the_cache_serves_repeats_and_misses_on_new_settings(store: SqliteStore) -> None:
    cache = BaselineCache(16)
    counting = Counting(store)
    kwargs: dict[str, Any] = {
        "store": counting,
        "graph": GRAPH,
        "principal": ALICE,
        "start": SCOPE,
        "end": SCOPE + DAY,
        "cache": cache,
    }
    first = api_call_baseline(**kwargs)
    again = api_call_baseline(**kwargs)
    assert again is first
    assert counting.calls["series_by_other"] == 1  # the second call only read the vertex
    other = api_call_baseline(**kwargs, config=BaselineConfig(tail_probability=0.01))
    assert other is not first and cache.stats.size == 2
    assert other.buckets[10].upper is not None and first.buckets[10].upper is not None
    assert other.buckets[10].upper < first.buckets[10].upper
    versioned = api_call_baseline(**kwargs, data_version=2)
    assert versioned is not first and cache.stats.hits == 1


def test_dense_places_store_rows_by_hour() -> None:
    rows = [(SCOPE, (1, 2)), (SCOPE + 2 * H, (3, 4)), (SCOPE + 10 * H, (9, 9))]
    np.testing.assert_array_equal(dense(rows, SCOPE, 3, (0, 1)), [[1, 0, 3], [2, 0, 4]])


def test_a_moved_interface_leaves_the_old_instance_baseline(tmp_path: Path) -> None:
    # eni-moved serves i-0old until 40 days before the scope, then i-0new: only the hours it was
    # attached count, in the baseline as in the scope, and on both search-page and single paths
    old, new = VertexRef(INSTANCE, "i-0old"), VertexRef(INSTANCE, "i-0new")
    nic = VertexRef(ENI, "eni-moved")
    moved = SCOPE - 40 * DAY
    store = SqliteStore(tmp_path / "moved.db")
    store.create_graph(GraphInfo(GRAPH, "111122223333", 1_700_000_000))
    buf = DeltaBuffer()
    buf.edge(HAS_INTERFACE, old, nic, SCOPE - 50 * DAY, (1,))
    buf.edge(HAS_INTERFACE, new, nic, moved + 600, (1,))
    for h in range(SCOPE - 50 * DAY, SCOPE + DAY, H):
        flow = 40_000 if 8 <= (h // H) % 24 < 18 else 4_000
        buf.edge(FLOW, nic, REMOTE, h + 5, (flow, flow, 10, 10), "6/443/51234/ingress/ACCEPT")
    store.write(buf.take(GRAPH, []))
    try:
        gone = vpc_flow_baseline(
            store=store, graph=GRAPH, instance=old, start=SCOPE, end=SCOPE + DAY
        )
        kept = vpc_flow_baseline(
            store=store, graph=GRAPH, instance=new, start=SCOPE, end=SCOPE + DAY
        )
        noon_gone, noon_kept = gone.buckets[12], kept.buckets[12]
        assert noon_gone.bytes_in == 0 and noon_kept.bytes_in == 40_000
        # i-0old had the interface on 5 of the 45 baseline days: next to nothing is expected of
        # it now (counting all of the interface's traffic would expect 40,000 bytes)
        assert noon_gone.expected_in is not None and noon_gone.expected_in < 2_000
        assert noon_kept.expected_in == pytest.approx(40_000, rel=0.05)
        assert noon_kept.upper_in is not None and noon_gone.upper_in is not None
        assert noon_gone.upper_in < 20_000 and noon_kept.upper_in >= 40_000

        from api.services.flows import vpc_flow_baselines
        from api.services.scope import Scope

        both = vpc_flow_baselines(
            store=store, graph=GRAPH, refs=[old, new], scope=Scope(SCOPE, SCOPE + DAY)
        )
        assert both[old].buckets == gone.buckets and both[new].buckets == kept.buckets
    finally:
        store.close()
