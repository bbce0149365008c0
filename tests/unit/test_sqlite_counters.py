"""Hourly counters that would pass int64 saturate in the SQLite store instead of failing the
whole batch (Python ints are unbounded; SQLite's are not, and it turns an overflowing sum into a
float). The loaders refuse absurd single values per record; sums of many valid ones remain."""

from __future__ import annotations

from pathlib import Path

from graph.batch import DeltaBuffer, LedgerEntry
from graph.model import ENI, FLOW, IP, VertexRef
from graph.sqlite import SqliteStore
from graph.store import Direction, GraphInfo

GRAPH = "arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32
H = 1_709_600_400 - 1_709_600_400 % 3600
NIC, PEER = VertexRef(ENI, "eni-0a1b2c3d4e5f60718"), VertexRef(IP, "203.0.113.9")
INT64_MAX = (1 << 63) - 1


def _flows(*counts: tuple[int, int, int, int]) -> DeltaBuffer:
    buf = DeltaBuffer()
    for c in counts:
        buf.edge(FLOW, NIC, PEER, H + 5, c, qualifier="tcp/443/50000/out/ACCEPT")
    return buf


def _write(store: SqliteStore, buf: DeltaBuffer, source: str) -> None:
    entry = LedgerEntry(source, "v1", 10, "loaded", "vpcflow", 1, 1, 0, (), H)
    store.write(buf.take(GRAPH, [entry]))


def _stored(store: SqliteStore) -> tuple[int, ...]:
    series = store.series(GRAPH, [NIC], FLOW, direction=Direction.OUT, start=H, end=H + 3600)
    ((hour, counts),) = series[NIC]
    assert hour == H
    return counts


def test_a_batch_sum_past_int64_saturates(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.create_graph(GraphInfo(GRAPH, "111122223333", H))
    big = (1 << 62) + 1
    _write(store, _flows((big, 7, 1, 1), (big, 8, 1, 1)), "s3://b/one")  # one row: 2^63 + 2
    counts = _stored(store)
    assert counts[:2] == (INT64_MAX, 15) and all(type(c) is int for c in counts)
    store.close()


def test_an_overflow_late_in_a_long_batch_counts_the_rows_before_it_once(
    tmp_path: Path,
) -> None:
    # hourly rows are staged many to a statement: those before the overflowing one are staged
    # already when it fails, and the batch is staged again saturated
    store = SqliteStore(tmp_path / "s.db")
    store.create_graph(GraphInfo(GRAPH, "111122223333", H))
    buf = DeltaBuffer()
    peers = [VertexRef(IP, f"198.51.100.{i}") for i in range(150)]
    for i, peer in enumerate(peers):
        big = (1 << 63) + 5 if i == 140 else i + 1
        buf.edge(FLOW, NIC, peer, H + 5, (big, 1, 1, 1), qualifier="tcp/443/50000/out/ACCEPT")
    _write(store, buf, "s3://b/one")
    series = store.series(GRAPH, [NIC], FLOW, direction=Direction.OUT, start=H, end=H + 3600)
    # summed over the peers, one of them saturated: saturated
    ((hour, counts),) = series[NIC]
    assert counts[1:] == (150, 150, 150)
    assert counts[0] == INT64_MAX
    got = {
        n.ref.key: n.counts
        for n in store.neighbours(GRAPH, [NIC], FLOW, direction=Direction.OUT)[NIC]
    }
    assert got == {p.key: (INT64_MAX if i == 140 else i + 1, 1, 1, 1) for i, p in enumerate(peers)}
    store.close()


def test_sums_across_batches_saturate_and_stay_integers(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.create_graph(GraphInfo(GRAPH, "111122223333", H))
    _write(store, _flows((INT64_MAX - 5, 1, 1, 1)), "s3://b/one")
    _write(store, _flows((10, 1, 1, 1)), "s3://b/two")
    _write(store, _flows((10, 1, 1, 1)), "s3://b/three")
    counts = _stored(store)
    assert counts == (INT64_MAX, 3, 3, 3) and type(counts[0]) is int
    # the ledger took every object: nothing was lost to the overflow
    assert set(store.ledger(GRAPH, ["s3://b/one", "s3://b/two", "s3://b/three"])) == {
        "s3://b/one",
        "s3://b/two",
        "s3://b/three",
    }
    store.close()


def test_reads_summing_saturated_counters_saturate_too(tmp_path: Path) -> None:
    """Edges at the maximum summed in one hour: the sum is the maximum, not an overflow; and a
    count past 2^53 stays exact (no float on the way)."""
    store = SqliteStore(tmp_path / "s.db")
    store.create_graph(GraphInfo(GRAPH, "111122223333", H))
    _write(store, _flows((INT64_MAX, 1, 1, 1)), "s3://b/one")
    other = VertexRef(IP, "198.51.100.4")
    buf = DeltaBuffer()
    buf.edge(FLOW, NIC, other, H + 60, ((1 << 53) + 1, 2, 3, 4))
    buf.edge(FLOW, NIC, PEER, H + 60, (5, 1, 1, 1), qualifier="udp/53/50001/out/ACCEPT")
    store.write(buf.take(GRAPH, []))
    ((hour, counts),) = store.series(
        GRAPH, [NIC], FLOW, direction=Direction.OUT, start=H, end=H + 3600
    )[NIC]
    assert hour == H and counts == (INT64_MAX, 4, 5, 6)
    dense = store.series_by_other(
        GRAPH, [NIC], FLOW, direction=Direction.OUT, start=H, end=H + 3600
    )[NIC]
    assert dense[PEER][:, 0].tolist() == [INT64_MAX, 2, 2, 2]
    assert dense[other][:, 0].tolist() == [(1 << 53) + 1, 2, 3, 4]
    store.close()
