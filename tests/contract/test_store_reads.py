"""Store contract, reads: lookups, search, neighbours, series and export."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pytest

from graph.batch import DeltaBuffer
from graph.export import dumps
from graph.model import (
    ACCOUNT,
    API,
    ASSUMED_ROLE,
    CALLED,
    COUNTER_MAX,
    IP,
    ROLE,
    SESSION,
    USED_IP,
    USER,
    VertexRef,
)
from graph.store import Direction, GraphStore, Neighbour
from tests.conftest import GRAPH, OTHER_GRAPH
from tests.contract.test_store_writes import ALICE, BOB, GET, IP1, LIST, H, write

DAY = 86_400
IP2 = VertexRef(IP, "198.51.100.8")
ROLE_R = VertexRef(ROLE, "AROAROLE")
S1 = VertexRef(SESSION, "AROAROLE:alice")
S2 = VertexRef(SESSION, "AROAROLE:bob")


@pytest.fixture
def loaded(store: GraphStore) -> GraphStore:
    buf = DeltaBuffer()
    for who, name, arn in (
        (ALICE, "alice", "arn:aws:iam::111122223333:user/alice"),
        (BOB, "Bob", "arn:aws:iam::111122223333:user/dev/Bob"),
    ):
        buf.vertex(who, H, H, {"name": name, "arn": arn, "account": "111122223333"})
    buf.vertex(ROLE_R, H, H, {"name": "Deploy[prod]?", "arn": "arn:aws:iam::111122223333:role/D"})
    buf.edge(CALLED, ALICE, GET, H + 5, (3, 1), qualifier=IP1.key)
    buf.edge(CALLED, ALICE, GET, H + DAY, (2, 0), qualifier=IP2.key)
    buf.edge(CALLED, ALICE, LIST, H + 2 * DAY, (1, 0), qualifier=IP1.key)
    buf.edge(CALLED, BOB, GET, H + 7, (10, 0), qualifier=IP2.key)
    buf.edge(USED_IP, ALICE, IP1, H + 5, (3, 1))
    buf.edge(USED_IP, ALICE, IP2, H + DAY, (2, 0))
    buf.edge(USED_IP, BOB, IP2, H + 7, (10, 0))
    buf.edge(USED_IP, VertexRef(ACCOUNT, "111122223333"), IP2, H + 7, (12, 0))
    buf.edge(ASSUMED_ROLE, S1, ROLE_R, H, (4,))
    buf.edge(ASSUMED_ROLE, S2, ROLE_R, H + 3600, (1,))
    write(store, buf)
    return store


def test_vertex_lookup_many(loaded: GraphStore) -> None:
    got = loaded.vertices(GRAPH, [ALICE, BOB, VertexRef(USER, "AIDANOBODY"), GET])
    assert set(got) == {ALICE, BOB, GET}
    assert got[BOB].props["arn"] == "arn:aws:iam::111122223333:user/dev/Bob"
    assert got[ALICE].first == H and got[ALICE].last == H + 2 * DAY


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("AIDAALICE", ["AIDAALICE"]),  # id
        ("AIDA", ["AIDAALICE", "AIDABOB"]),  # prefix of the id
        ("alice", ["AIDAALICE"]),  # name
        ("Alice", []),  # case-sensitive, like Detective
        ("arn:aws:iam::111122223333:user/dev/Bob", ["AIDABOB"]),  # ARN
        ("arn:aws:iam::111122223333:user/*", ["AIDAALICE", "AIDABOB"]),  # wildcard
        ("*Bob", ["AIDABOB"]),
        ("*o*", ["AIDABOB"]),
        ("", ["AIDAALICE", "AIDABOB"]),
        ("AIDAALICEX", []),
    ],
)
def test_search(loaded: GraphStore, query: str, expected: list[str]) -> None:
    page = loaded.search(GRAPH, USER, query, limit=50)
    assert [v.key for v in page.vertices] == expected
    assert page.next_after is None


def test_search_treats_glob_metacharacters_literally(loaded: GraphStore) -> None:
    assert [v.key for v in loaded.search(GRAPH, ROLE, "Deploy[prod]?", limit=5).vertices] == [
        ROLE_R.key
    ]
    assert loaded.search(GRAPH, ROLE, "Deploy[p", limit=5).vertices[0].key == ROLE_R.key
    assert loaded.search(GRAPH, ROLE, "Deployp", limit=5).vertices == []


def test_search_pages(loaded: GraphStore) -> None:
    first = loaded.search(GRAPH, USER, "AIDA", limit=1)
    assert [v.key for v in first.vertices] == ["AIDAALICE"] and first.next_after == "AIDAALICE"
    second = loaded.search(GRAPH, USER, "AIDA", limit=1, after=first.next_after)
    assert [v.key for v in second.vertices] == ["AIDABOB"] and second.next_after is None


def test_neighbours_all_time_and_in_range(loaded: GraphStore) -> None:
    out = loaded.neighbours(GRAPH, [ALICE, BOB], CALLED, direction=Direction.OUT)
    assert [(n.ref.key, n.qualifier, n.counts) for n in out[ALICE]] == [
        (GET.key, IP1.key, (3, 1)),
        (GET.key, IP2.key, (2, 0)),
        (LIST.key, IP1.key, (1, 0)),
    ]
    assert [(n.ref, n.counts) for n in out[BOB]] == [(GET, (10, 0))]
    day2 = loaded.neighbours(
        GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H + DAY, end=H + 2 * DAY
    )
    (only,) = day2[ALICE]
    assert (only.qualifier, only.counts, only.first) == (IP2.key, (2, 0), H + DAY)


def test_neighbours_inbound_with_label_and_vertex_filters(loaded: GraphStore) -> None:
    callers = loaded.neighbours(GRAPH, [IP2], USED_IP, direction=Direction.IN)[IP2]
    assert {n.ref for n in callers} == {ALICE, BOB, VertexRef(ACCOUNT, "111122223333")}
    leaves = loaded.neighbours(
        GRAPH, [IP2], USED_IP, direction=Direction.IN, other_labels=frozenset({USER})
    )
    assert {n.ref for n in leaves[IP2]} == {ALICE, BOB}
    just_bob = loaded.neighbours(GRAPH, [IP2], USED_IP, direction=Direction.IN, others=[BOB])
    assert [n.counts for n in just_bob[IP2]] == [(10, 0)]
    sessions = loaded.neighbours(GRAPH, [ROLE_R], ASSUMED_ROLE, direction=Direction.IN)[ROLE_R]
    assert [(n.ref, n.counts) for n in sessions] == [(S1, (4,)), (S2, (1,))]


def test_neighbours_without_counts_are_the_same_edges(loaded: GraphStore) -> None:
    """counts=False: the edges a read with counts finds (same order, first/last), counts ()."""
    cases: list[dict[str, Any]] = [
        {"refs": [ALICE, BOB], "edge_label": CALLED, "direction": Direction.OUT},
        {"refs": [ALICE], "edge_label": CALLED, "direction": Direction.OUT,
         "start": H + DAY, "end": H + 2 * DAY},
        {"refs": [ALICE], "edge_label": CALLED, "direction": Direction.OUT,
         "start": H + 3600, "end": H + DAY},  # an empty range
        {"refs": [IP2], "edge_label": USED_IP, "direction": Direction.IN,
         "other_labels": frozenset({USER})},
        {"refs": [IP2], "edge_label": USED_IP, "direction": Direction.IN, "others": [BOB],
         "start": H, "end": H + DAY},
    ]  # fmt: skip
    for case in cases:
        refs, label = case.pop("refs"), case.pop("edge_label")
        full = loaded.neighbours(GRAPH, refs, label, **case)
        bare = loaded.neighbours(GRAPH, refs, label, counts=False, **case)
        assert bare == {
            r: [Neighbour(n.ref, n.qualifier, n.first, n.last, ()) for n in rows]
            for r, rows in full.items()
        }


def test_neighbours_of_unknown_vertices_are_absent(loaded: GraphStore) -> None:
    assert (
        loaded.neighbours(GRAPH, [VertexRef(USER, "nobody")], CALLED, direction=Direction.OUT) == {}
    )


def test_series_sums_neighbours_per_hour(loaded: GraphStore) -> None:
    s = loaded.series(
        GRAPH, [ALICE, BOB], CALLED, direction=Direction.OUT, start=H, end=H + 3 * DAY
    )
    assert s[ALICE] == [(H, (3, 1)), (H + DAY, (2, 0)), (H + 2 * DAY, (1, 0))]
    assert s[BOB] == [(H, (10, 0))]
    inbound = loaded.series(
        GRAPH,
        [IP2],
        USED_IP,
        direction=Direction.IN,
        start=H,
        end=H + 3 * DAY,
        other_labels=frozenset({USER}),
    )
    assert inbound[IP2] == [(H, (10, 0)), (H + DAY, (2, 0))]


def test_series_range_is_half_open_and_filters(loaded: GraphStore) -> None:
    s = loaded.series(
        GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H + 3600, end=H + 2 * DAY
    )
    assert s[ALICE] == [(H + DAY, (2, 0))]
    by_ip = loaded.series(
        GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 3 * DAY, qualifier=IP1.key
    )
    assert by_ip[ALICE] == [(H, (3, 1)), (H + 2 * DAY, (1, 0))]
    one_api = loaded.series(
        GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 3 * DAY, others=[LIST]
    )
    assert one_api[ALICE] == [(H + 2 * DAY, (1, 0))]
    with pytest.raises(ValueError):
        loaded.series(GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H)


def test_series_by_other_per_other_end_summed_over_qualifiers(store: GraphStore) -> None:
    buf = DeltaBuffer()
    buf.edge(CALLED, ALICE, GET, H + 5, (3, 1), qualifier=IP1.key)
    buf.edge(CALLED, ALICE, GET, H + 50, (2, 2), qualifier=IP2.key)  # same hour, other address
    buf.edge(CALLED, ALICE, GET, H + 2 * 3600, (1, 0), qualifier=IP2.key)
    buf.edge(CALLED, ALICE, LIST, H + 3 * 3600, (7, 0), qualifier=IP1.key)
    buf.edge(CALLED, BOB, GET, H + 3600, (10, 0), qualifier=IP2.key)
    buf.edge(CALLED, BOB, LIST, H + 9 * 3600, (5, 5), qualifier=IP2.key)  # after the range
    write(store, buf)
    got = store.series_by_other(
        GRAPH, [ALICE, BOB, VertexRef(USER, "AIDANOBODY")], CALLED,
        direction=Direction.OUT, start=H, end=H + 4 * 3600,
    )  # fmt: skip
    assert set(got) == {ALICE, BOB}
    assert set(got[ALICE]) == {GET, LIST} and set(got[BOB]) == {GET}
    alice_get = got[ALICE][GET]
    assert alice_get.dtype == np.int64 and alice_get.shape == (2, 4)
    assert alice_get.tolist() == [[5, 0, 1, 0], [3, 0, 0, 0]]
    assert got[ALICE][LIST].tolist() == [[0, 0, 0, 7], [0, 0, 0, 0]]
    assert got[BOB][GET].tolist() == [[0, 10, 0, 0], [0, 0, 0, 0]]
    callers = store.series_by_other(
        GRAPH, [GET], CALLED, direction=Direction.IN, start=H + 3600, end=H + 3 * 3600
    )
    assert {k: v.tolist() for k, v in callers[GET].items()} == {
        ALICE: [[0, 1], [0, 0]],
        BOB: [[10, 0], [0, 0]],
    }
    # a range that ends inside an hour has a column for that hour
    partial = store.series_by_other(
        GRAPH, [BOB], CALLED, direction=Direction.OUT, start=H, end=H + 9 * 3600 + 1
    )
    assert partial[BOB][LIST].shape == (2, 10) and partial[BOB][LIST][:, 9].tolist() == [5, 5]
    assert (
        store.series_by_other(
            OTHER_GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 3600
        )
        == {}
    )
    with pytest.raises(ValueError, match="not an hour start"):
        store.series_by_other(
            GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H + 1, end=H + 3600
        )
    with pytest.raises(ValueError):
        store.series_by_other(GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H)


def test_series_by_other_agrees_with_series(store: GraphStore) -> None:
    """Summed over the other ends, the dense arrays are `series` (random edges, both ways)."""
    rng = random.Random(7)
    users = [VertexRef(USER, f"AIDAU{i}") for i in range(4)]
    apis = [VertexRef(API, f"ec2.amazonaws.com:Op{i}") for i in range(5)]
    buf = DeltaBuffer()
    for _ in range(120):
        buf.edge(
            CALLED, rng.choice(users), rng.choice(apis), H + rng.randrange(30 * 3600),
            (rng.randrange(1, 9), rng.randrange(3)), qualifier=f"10.0.0.{rng.randrange(3)}",
        )  # fmt: skip
    write(store, buf)
    start, end = H + 2 * 3600, H + 26 * 3600
    for refs, direction in ((users, Direction.OUT), (apis, Direction.IN)):
        dense = store.series_by_other(
            GRAPH, refs, CALLED, direction=direction, start=start, end=end
        )
        sparse = store.series(GRAPH, refs, CALLED, direction=direction, start=start, end=end)
        for ref in refs:
            want = np.zeros((2, 24), dtype=np.int64)
            for hour, counts in sparse.get(ref, []):
                want[:, (hour - start) // 3600] = counts
            have = sum(dense.get(ref, {}).values(), np.zeros((2, 24), dtype=np.int64))
            assert have.tolist() == want.tolist(), ref


def test_export_is_sorted_and_complete(loaded: GraphStore) -> None:
    records = list(loaded.export(GRAPH))
    vertices = [r for r in records if r["type"] == "vertex"]
    edges = [r for r in records if r["type"] == "edge"]
    assert records == vertices + edges
    assert [(v["label"], v["key"]) for v in vertices] == sorted(
        (v["label"], v["key"]) for v in vertices
    )
    keys = [(e["label"], *e["src"], *e["dst"], e["qualifier"]) for e in edges]
    assert keys == sorted(keys)
    alice_get = [e for e in edges if e["src"] == list(ALICE) and e["dst"] == list(GET)]
    assert [e["hours"] for e in alice_get] == [[[H, 3, 1]], [[H + DAY, 2, 0]]]
    assert alice_get[0]["counters"] == ["success", "failure"]
    # the serialized form is canonical
    line = dumps(records[0])
    assert json.loads(line) == records[0] and ": " not in line and line == dumps(json.loads(line))


def test_reads_of_saturated_counters_saturate(store: GraphStore) -> None:
    """Counters the writer saturated (COUNTER_MAX) add up to COUNTER_MAX in every read that sums
    hours or qualifiers, never an error or a wrapped negative count; sums below it stay exact."""
    big = COUNTER_MAX - 1
    buf = DeltaBuffer()
    buf.edge(CALLED, ALICE, GET, H + 5, (big, 2**53 + 1), qualifier=IP1.key)
    buf.edge(CALLED, ALICE, GET, H + 6, (big, 0), qualifier=IP1.key)  # the batch's own sum wraps
    buf.edge(CALLED, ALICE, GET, H + 3600, (big, 0), qualifier=IP1.key)
    buf.edge(CALLED, ALICE, GET, H + 7, (big, 0), qualifier=IP2.key)
    buf.edge(CALLED, BOB, GET, H + 5, (2**53, 0), qualifier=IP1.key)
    buf.edge(CALLED, BOB, GET, H + 3600, (1, 0), qualifier=IP1.key)
    write(store, buf)
    again = DeltaBuffer()  # onto stored edges: the store adds up, saturating
    again.edge(CALLED, ALICE, GET, H + 3600 + 9, (big, 0), qualifier=IP1.key)
    again.edge(CALLED, ALICE, GET, H + 8, (1, 0), qualifier=IP2.key)
    write(store, again)
    around = {"start": H, "end": H + 2 * 3600}
    for span in ({}, around):
        got = store.neighbours(GRAPH, [ALICE, BOB], CALLED, direction=Direction.OUT, **span)
        by_qualifier = {n.qualifier: n.counts for n in got[ALICE]}
        assert by_qualifier == {IP1.key: (COUNTER_MAX, 2**53 + 1), IP2.key: (COUNTER_MAX, 0)}
        assert [n.counts for n in got[BOB]] == [(2**53 + 1, 0)]
    hours = store.series(GRAPH, [ALICE], CALLED, direction=Direction.OUT, **around)[ALICE]
    assert hours == [(H, (COUNTER_MAX, 2**53 + 1)), (H + 3600, (COUNTER_MAX, 0))]
    dense = store.series_by_other(GRAPH, [ALICE], CALLED, direction=Direction.OUT, **around)
    assert dense[ALICE][GET].tolist() == [[COUNTER_MAX, COUNTER_MAX], [2**53 + 1, 0]]
