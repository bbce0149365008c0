"""Store contract, EdgeRows (graph/edge_rows.py): hourly edge counts given column by column
write exactly what the same observations write as EdgeDeltas, on every backend."""

from __future__ import annotations

import random

import pytest

from graph.batch import DeltaBuffer, LedgerEntry
from graph.edge_rows import EdgeRows
from graph.model import CALLED, COUNTER_MAX, ENI, FLOW, INSTANCE, IP, VertexRef
from graph.store import Direction, GraphStore
from tests.conftest import GRAPH, OTHER_GRAPH
from tests.contract.test_store_writes import ALICE, GET, H, entry

NICS = [f"eni-{i:08x}" for i in range(4)]
HOSTS = [f"i-{i:017x}" for i in range(2)]
PEERS = [f"198.51.100.{i}" for i in range(6)]
Row = tuple[str, str, str, str, int, int, int, tuple[int, int, int, int]]


def _observations(rng: random.Random, n: int) -> list[Row]:
    """(source label, source key, peer, qualifier, hour, first, last, counts): with repeats of
    the same edge in other hours and of the same (edge, hour)."""
    out: list[Row] = []
    for _ in range(n):
        label, key = rng.choice([(ENI, k) for k in NICS] + [(INSTANCE, k) for k in HOSTS])
        hour = H + 3600 * rng.randrange(3)
        first = hour + rng.randrange(3000)
        q = f"tcp/443/{rng.choice((50000, 50001))}/egress/ACCEPT"
        counts = (rng.randrange(10**6), rng.randrange(10**6), rng.randrange(99), rng.randrange(9))
        out.append(
            (label, key, rng.choice(PEERS), q, hour, first, first + rng.randrange(500), counts)
        )
    return out


def _endpoints(buf: DeltaBuffer, rows: list[Row]) -> None:
    for label, key, peer, _q, _hour, first, last, _counts in rows:
        buf.vertex(VertexRef(label, key), first, last)
        buf.vertex(VertexRef(IP, peer), first, last)


def _as_rows(rows: list[Row], label: str) -> EdgeRows:
    mine = [r for r in rows if r[0] == label]
    return EdgeRows(
        FLOW, label, IP, [r[1] for r in mine], [r[2] for r in mine], [r[3] for r in mine],
        [r[4] for r in mine], [r[5] for r in mine], [r[6] for r in mine],
        tuple([r[7][i] for r in mine] for i in range(4)),
    )  # fmt: skip


def _as_deltas(buf: DeltaBuffer, rows: list[Row]) -> None:
    for label, key, peer, q, _hour, first, last, counts in rows:
        buf.count(FLOW, VertexRef(label, key), VertexRef(IP, peer), q, first, last, counts)


def test_edge_rows_write_what_edge_deltas_write(store: GraphStore) -> None:
    rng = random.Random(11)
    for batch in range(2):  # the second batch adds onto stored edges and hours
        observed = _observations(rng, 120)
        as_rows, as_deltas = DeltaBuffer(), DeltaBuffer()
        for buf in (as_rows, as_deltas):
            _endpoints(buf, observed)
        # some edges of the batch come as EdgeDeltas beside the rows (a flush mixes both)
        _as_deltas(as_rows, observed[:10])
        for label in (ENI, INSTANCE):
            as_rows.add_rows(_as_rows(observed[10:], label))
        assert len(as_rows) == len(as_rows.copy()) > len(as_deltas)
        _as_deltas(as_deltas, observed)
        store.write(as_rows.take(GRAPH, [entry(f"rows-{batch}")]))
        store.write(as_deltas.take(OTHER_GRAPH, [entry(f"rows-{batch}")]))
    exported = [{**r, "graph": None} for r in store.export(GRAPH)]
    assert exported == [{**r, "graph": None} for r in store.export(OTHER_GRAPH)]
    assert sum(r["type"] == "edge" for r in exported) >= 40
    nic = VertexRef(ENI, NICS[0])
    got = store.neighbours(GRAPH, [nic], FLOW, direction=Direction.OUT)[nic]
    assert got and all(len(n.counts) == 4 and n.counts[0] > 0 for n in got)


def test_edge_rows_counters_saturate(store: GraphStore) -> None:
    nic, peer = VertexRef(ENI, NICS[0]), VertexRef(IP, PEERS[0])
    for big in (2**64, COUNTER_MAX):  # past int64 in the batch, then onto a saturated count
        buf = DeltaBuffer()
        buf.vertex(nic, H + 1)
        buf.vertex(peer, H + 1)
        buf.add_rows(
            EdgeRows(FLOW, ENI, IP, [nic.key] * 2, [peer.key] * 2, ["q", "r"], [H, H],
                     [H + 1, H + 2], [H + 1, H + 2], ([big, 1], [1, big], [0, 0], [5, 0]))
        )  # fmt: skip
        store.write(buf.take(GRAPH, []))
    got = {
        n.qualifier: n.counts
        for n in store.neighbours(GRAPH, [nic], FLOW, direction=Direction.OUT)[nic]
    }
    assert got == {"q": (COUNTER_MAX, 2, 0, 10), "r": (2, COUNTER_MAX, 0, 0)}


def test_a_counter_past_int64_late_in_a_long_block_saturates_only_its_row(
    store: GraphStore,
) -> None:
    # SQLite stages rows in groups: the rows before the one that overflows are staged already
    # when it fails, and must not be counted twice when the block is staged again saturated
    nic, peer = VertexRef(ENI, NICS[0]), VertexRef(IP, PEERS[0])
    n, big_at = 150, 130
    buf = DeltaBuffer()
    buf.vertex(nic, H + 1)
    buf.vertex(peer, H + 1)
    ones = [1] * n
    buf.add_rows(
        EdgeRows(FLOW, ENI, IP, [nic.key] * n, [peer.key] * n, [f"q{i}" for i in range(n)],
                 [H] * n, [H + 1] * n, [H + 1] * n,
                 ([2**64 if i == big_at else 1 for i in range(n)], ones, ones, ones))
    )  # fmt: skip
    store.write(buf.take(GRAPH, []))
    got = {
        n.qualifier: n.counts
        for n in store.neighbours(GRAPH, [nic], FLOW, direction=Direction.OUT)[nic]
    }
    assert got == {f"q{i}": (COUNTER_MAX if i == big_at else 1, 1, 1, 1) for i in range(n)}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (EdgeRows(FLOW, ENI, IP, ["eni-gone"], [PEERS[0]], ["q"], [H], [H], [H], ([1],) * 4),
         "not in the batch"),
        (EdgeRows(FLOW, IP, ENI, [PEERS[0]], [NICS[0]], ["q"], [H], [H], [H], ([1],) * 4),
         "cannot join"),
        (EdgeRows(FLOW, ENI, IP, [NICS[0]], [PEERS[0]], ["q"], [H + 1], [H + 1], [H + 1],
                  ([1],) * 4), "bad hourly row"),
        # the second row: first before its hour; last before first; a float hour off the hour
        (EdgeRows(FLOW, ENI, IP, [NICS[0]] * 2, [PEERS[0]] * 2, ["q", "r"], [H, H], [H, H - 1],
                  [H, H], ([1, 1],) * 4), f"bad hourly row for FLOW: {H} {H - 1} {H}"),
        (EdgeRows(FLOW, ENI, IP, [NICS[0]] * 2, [PEERS[0]] * 2, ["q", "r"], [H, H], [H, H + 9],
                  [H, H + 8], ([1, 1],) * 4), f"bad hourly row for FLOW: {H} {H + 9} {H + 8}"),
        (EdgeRows(FLOW, ENI, IP, [NICS[0]] * 2, [PEERS[0]] * 2, ["q", "r"], [H, H + 0.5],
                  [H + 1] * 2, [H + 1] * 2, ([1, 1],) * 4), "bad hourly row"),
        (EdgeRows(FLOW, ENI, IP, [NICS[0]], [PEERS[0]], ["q"], [H], [H], [H], ([1],) * 3),
         "counter columns"),
        (EdgeRows(FLOW, ENI, IP, [NICS[0]], [PEERS[0]], ["q", "r"], [H], [H], [H], ([1],) * 4),
         "different lengths"),
    ],
)  # fmt: skip
def test_bad_edge_rows_write_nothing(store: GraphStore, rows: EdgeRows, message: str) -> None:
    buf = DeltaBuffer()
    buf.vertex(VertexRef(ENI, NICS[0]), H)
    buf.vertex(VertexRef(IP, PEERS[0]), H)
    buf.add_rows(rows)
    with pytest.raises(ValueError, match=message):
        store.write(buf.take(GRAPH, [entry("bad")]))
    assert list(store.export(GRAPH)) == []
    assert store.ledger(GRAPH, ["bad"]) == {}


def test_day_series_labels_given_as_rows_keep_their_day_series(store: GraphStore) -> None:
    buf = DeltaBuffer()
    buf.vertex(ALICE, H)
    buf.vertex(GET, H)
    buf.add_rows(
        EdgeRows(CALLED, ALICE.label, GET.label, [ALICE.key] * 2, [GET.key] * 2, ["ip", "ip"],
                 [H, H + 3600], [H, H + 3600], [H + 5, H + 3605], ([3, 4], [1, 0]))
    )  # fmt: skip
    store.write(buf.take(GRAPH, [LedgerEntry("s", "v", 1, "loaded", "cloudtrail")]))
    dense = store.series_by_other(
        GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 7200
    )
    assert dense[ALICE][GET].tolist() == [[3, 4], [1, 0]]
