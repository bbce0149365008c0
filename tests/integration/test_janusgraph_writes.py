"""The JanusGraph batched writer's fast paths keep its results.

Rows encoded by graph.janusgraph_wire are the bytes gremlinpython would send; the create-only
merges of elements that cannot exist yet fall back to full merges, with the same graph as SQLite,
when one does exist after all."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gremlin_python.process.traversal import Direction, T
from gremlin_python.statics import long
from gremlin_python.structure.io.graphbinaryV1 import GraphBinaryWriter

import graph.janusgraph_writes as writes
from bench.janusgraph_write import elements_of, hourly_rows, summary_row, workload
from graph.batch import LedgerEntry, WriteBatch
from graph.janusgraph import JanusGraphStore
from graph.janusgraph_schema import vertex_id
from graph.janusgraph_wire import Encoder
from graph.sqlite import SqliteStore
from graph.store import GraphInfo
from tests.conftest import IN_CI


def _batch(graph: str, elements: int, seed: int, source: str | None = None) -> WriteBatch:
    ledger = [] if source is None else [LedgerEntry(source, "v1", 10, "loaded", "cloudtrail")]
    return workload(elements, seed=seed).take(graph, ledger)


def _rows(graph: str) -> list[dict[str, object]]:
    b = _batch(graph, 600, seed=3)
    rows: list[dict[str, object]] = [writes.vertex_row(graph, vd) for vd in b.vertices]
    rows += [summary_row(graph, ed) for ed in b.edges]
    rows += [r for ed in b.edges for r in hourly_rows(graph, ed)]
    return rows


def _as_longs(value: Any) -> Any:
    """`value` with ints beyond 32 bits typed as gremlinpython's `long` (its writer would
    refuse them otherwise; ours sends them as longs by themselves)."""
    if isinstance(value, dict):
        return {k: _as_longs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_longs(v) for v in value]
    if type(value) is int and not -(2**31) <= value < 2**31:
        return long(value)
    return value


def test_encoded_rows_are_the_bytes_gremlinpython_writes() -> None:
    graph = "arn:aws:detective:us-east-1:111122223333:graph:" + "c" * 32
    rows = _rows(graph)
    extra = {"s": "é ünïcode ✓", "f": 0.25, "n": None, "b": False, "neg": -(2**31), "t": T.key}
    rows.append({"k": {T.id: "x", T.label: "L", Direction.OUT: "o", Direction.IN: "i"}, **extra})
    encoder = Encoder(cache=50)  # also past the end of its string cache
    want = bytes(GraphBinaryWriter().to_dict(_as_longs(rows), bytearray()))
    assert encoder.encode(rows).data == want
    assert encoder.encode(rows).data == want  # strings from the cache


def test_integers_beyond_32_bits_go_out_as_longs_and_unknown_types_are_refused() -> None:
    data = Encoder().encode([2**40, -(2**40)]).data
    assert data[:6] == bytes((0x09, 0, 0, 0, 0, 2))  # list of 2
    assert data[6:8] == bytes((0x02, 0)) and int.from_bytes(data[8:16], "big") == 2**40
    with pytest.raises(TypeError):
        Encoder().encode([object()])
    with pytest.raises(ValueError):
        Encoder().encode([2**64])


@pytest.fixture
def janusgraph(tmp_path: Path) -> Iterator[tuple[JanusGraphStore, SqliteStore, str]]:
    url = os.environ.get("JANUSGRAPH_URL")
    if not url:
        message = "set JANUSGRAPH_URL (start docker/janusgraph/local-server.sh)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    graph = f"arn:aws:detective:us-east-1:123456789012:graph:{uuid.uuid4().hex}"
    info = GraphInfo(graph, "123456789012", int(time.time()))
    jg = JanusGraphStore.from_uri(url)
    sq = SqliteStore(tmp_path / "graph.db")
    jg.create_graph(info)
    sq.create_graph(info)
    try:
        yield jg, sq, graph
    finally:
        jg.delete_graph(graph)
        jg.close()
        sq.close()


def _export(store: JanusGraphStore | SqliteStore, graph: str) -> str:
    return "\n".join(json.dumps(r, sort_keys=True) for r in store.export(graph))


def test_fresh_elements_take_the_create_only_path(
    janusgraph: tuple[JanusGraphStore, SqliteStore, str],
) -> None:
    jg, sq, graph = janusgraph
    first = _batch(graph, 400, seed=1, source="s3://b/1")
    paths = {_path(step) for step, _ in writes.requests(first, [], {"x"})}
    assert not paths & {writes.CREATE_VERTICES, writes.CREATE_EDGES}  # "x" is no vertex
    new = {vertex_id(graph, vd.label, vd.key) for vd in first.vertices}
    created = list(writes.requests(first, [], new))
    assert {_path(step) for step, _ in created} == {writes.CREATE_VERTICES, writes.CREATE_EDGES}
    # every element once: each vertex, each edge's summary and hourly edges
    assert sum(len(items) for _, items in created) == elements_of(first)
    for store in (jg, sq):
        store.write(_batch(graph, 400, seed=1, source="s3://b/1"))
        # overlapping vertices and edges: some new, some merged
        store.write(_batch(graph, 900, seed=2, source="s3://b/2"))
    second = _batch(graph, 900, seed=2)
    stored = {vertex_id(graph, vd.label, vd.key) for vd in first.vertices}
    paths = {_path(step) for step, _ in writes.requests(second, [], _ids(second) - stored)}
    # all three script paths, and vertex merges, were taken by the second write
    assert {writes.CREATE_VERTICES, writes.CREATE_EDGES, writes.UPSERT_EDGES} <= paths
    assert "merge" in paths
    assert _export(jg, graph) == _export(sq, graph)


def _ids(batch: WriteBatch) -> set[str]:
    return {vertex_id(batch.graph, vd.label, vd.key) for vd in batch.vertices}


def _path(step: object) -> str:
    return step if isinstance(step, str) else getattr(step, "__name__", repr(step))


def test_edges_to_look_up_go_first_grouped_by_source_vertex() -> None:
    # (the script's look-up on a vertex also scans the relations the transaction has added to
    # it: edges are looked up before any is added, and each vertex's together)
    graph = "arn:aws:detective:us-east-1:123456789012:graph:" + "c" * 32
    batch = _batch(graph, 3000, seed=4)
    ids = sorted(_ids(batch))
    new = set(ids[::3])  # a third of the vertices are new: edges of both kinds
    edge_requests = [
        (step, items)
        for step, items in writes.requests(batch, [], new)
        if step in (writes.CREATE_EDGES, writes.UPSERT_EDGES)
    ]
    kinds = [step for step, _ in edge_requests]
    assert writes.CREATE_EDGES in kinds and kinds.count(writes.UPSERT_EDGES) > 1
    assert kinds == sorted(kinds, key=lambda k: k != writes.UPSERT_EDGES)  # upserts first
    upserts = [
        item for step, items in edge_requests if step == writes.UPSERT_EDGES for item in items
    ]
    assert [src for src, *_ in upserts] == sorted(src for src, *_ in upserts)
    assert not {src for src, *_ in upserts} & new and not {dst for _, dst, *_ in upserts} & new


def test_an_element_created_meanwhile_rolls_back_and_merges(
    janusgraph: tuple[JanusGraphStore, SqliteStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    jg, sq, graph = janusgraph
    for store in (jg, sq):
        store.write(_batch(graph, 400, seed=1, source="s3://b/1"))
    looked_up: list[int] = []

    def stale(gtx: object, batch: WriteBatch) -> set[str]:
        # as if another writer had committed every vertex right after the look-up
        looked_up.append(1)
        return {vertex_id(batch.graph, vd.label, vd.key) for vd in batch.vertices}

    monkeypatch.setattr(writes, "_new_vertices", stale)
    for store in (jg, sq):
        store.write(_batch(graph, 400, seed=1, source="s3://b/2"))
    assert looked_up == [1]  # the retry merges without looking up again
    assert _export(jg, graph) == _export(sq, graph)
    assert set(jg.ledger(graph, ["s3://b/1", "s3://b/2"])) == {"s3://b/1", "s3://b/2"}
