"""Elements written per second into one JanusGraph server: the batched writer vs one per request.

    python -m bench.janusgraph_write [--store janusgraph://127.0.0.1:8182] [--elements N]

Both passes write the same kind of elements (principal and API vertices, CALLED summary edges and
their hourly edges, as the loader does) into fresh graphs of the same server, in one run:
(a) the store's batched writer (`JanusGraphStore.write`: one transaction, requests of hundreds of
maps or items), the median of `--repeat` batches, each into a fresh graph, after a warm-up write
of the server's JIT; (b) one element per request, the same mergeV/mergeE traversal shapes, each
its own request; (c) for information, a later batch onto a graph whose vertices (and many
edges) exist. Prints elements/s of both and their ratio against the targets (>= 20,000 elements/s
batched, >= 50x one-per-request).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gremlin_python.process.graph_traversal import GraphTraversal, __
from gremlin_python.process.traversal import Direction, Merge, P, T
from gremlin_python.statics import long

from graph.batch import DeltaBuffer, EdgeDelta, WriteBatch
from graph.janusgraph import JanusGraphStore
from graph.janusgraph_create import clamped, totals
from graph.janusgraph_schema import COUNTERS, HOURLY, vertex_id
from graph.janusgraph_writes import FRESH, vertex_merge, vertex_row, widen
from graph.model import API, CALLED, COUNTER_MAX, SESSION, VertexRef
from graph.store import GraphInfo

OUT = Path(__file__).resolve().parent / "out"
H0 = 1_700_000_000 - 1_700_000_000 % 3600


def workload(elements: int, seed: int) -> DeltaBuffer:
    """Sessions calling APIs over hours: about 1 vertex per 10 elements, like a real batch."""
    rng = random.Random(seed)
    buf = DeltaBuffer()
    sessions = [VertexRef(SESSION, f"AROA{i:08d}:s{i}") for i in range(max(1, elements // 20))]
    apis = [
        VertexRef(API, f"svc{i % 7}.amazonaws.com:Op{i}") for i in range(max(1, elements // 40))
    ]
    while len(buf) < elements:
        s, a = rng.choice(sessions), rng.choice(apis)
        ts = H0 + rng.randrange(48) * 3600 + rng.randrange(3600)
        buf.edge(
            CALLED, s, a, ts, (rng.randrange(1, 50), rng.randrange(3)), f"10.0.{rng.randrange(4)}.1"
        )
    return buf


def elements_of(batch: WriteBatch) -> int:
    """Vertices + summary edges + hourly edges: every element a store request creates."""
    return len(batch.vertices) + len(batch.edges) + sum(len(e.hours) for e in batch.edges)


def batched(store: JanusGraphStore, graph: str, batch: WriteBatch) -> float:
    started = time.perf_counter()
    store.write(batch)
    return time.perf_counter() - started


def one_per_request(
    store: JanusGraphStore, graph: str, batch: WriteBatch, limit: int
) -> tuple[int, float]:
    """The same merges, one element per request, until `limit` elements were written."""
    g = store.g
    items: list[tuple[str, dict[str, Any]]] = [
        (vd.label, vertex_row(graph, vd)) for vd in batch.vertices
    ]
    for ed in batch.edges:
        items.append(("summary", summary_row(graph, ed)))
        items.extend(("hourly", row) for row in hourly_rows(graph, ed))
    started = time.perf_counter()
    for kind, row in items[:limit]:
        if kind in ("summary", "hourly"):
            edge_merge(g.inject(row), span=kind == "summary").iterate()
        else:
            vertex_merge(kind)(g.inject(row)).iterate()
    return min(limit, len(items)), time.perf_counter() - started


# The one-per-request pass's edge merges: mergeE with the upsert in the traversal (what the
# batched writer did before its write script, graph/janusgraph_create.py, took edges over).


def edge_merge(t: GraphTraversal, *, span: bool) -> GraphTraversal:
    """mergeE of one summary (`span`: widen first/last) or hourly edge row: created, or its
    counters added into the stored ones, saturating at COUNTER_MAX."""
    update = widen(__.identity()) if span else __.identity()
    for c in COUNTERS:
        # stored + delta, saturating at COUNTER_MAX as SQLite's writer does (the server's long
        # addition wraps): the row carries each counter's room, COUNTER_MAX - delta, and a
        # stored value above it takes COUNTER_MAX
        full = __.values(c).as_("o").select("x").select("r").select(c).where(P.lt("o"))
        added = __.union(__.values(c), __.select("x").select("d").select(c)).sum_()
        update = update.property(c, __.choose(full, __.constant(long(COUNTER_MAX)), added))
    return (
        t.as_("x")
        .merge_e(__.select("k"))
        .option(Merge.on_create, __.select("c"))
        .option(Merge.on_match, __.constant({}))
        .choose(__.has(FRESH), __.properties(FRESH).drop(), update)
    )


def summary_row(graph: str, ed: EdgeDelta) -> dict[str, Any]:
    # saturated like the hours (longs on the server; sums past int64 of valid inputs happen)
    counters = totals(ed)
    span = {"first": ed.first, "last": ed.last}
    return {
        "k": {
            T.label: ed.label,
            Direction.OUT: vertex_id(graph, ed.src.label, ed.src.key),
            Direction.IN: vertex_id(graph, ed.dst.label, ed.dst.key),
            "q": ed.qualifier,
        },
        "c": {"graph": graph, **span, **counters, FRESH: True},
        "d": {**span, **counters},
        "r": _room(counters),
    }


def _room(counters: dict[str, int]) -> dict[str, int]:
    return {c: COUNTER_MAX - v for c, v in counters.items()}


def hourly_rows(graph: str, ed: EdgeDelta) -> Iterator[dict[str, Any]]:
    src = vertex_id(graph, ed.src.label, ed.src.key)
    dst = vertex_id(graph, ed.dst.label, ed.dst.key)
    label = ed.label + HOURLY
    for hour, counts in ed.hours.items():
        counters = clamped(counts)
        key = {
            T.label: label,
            Direction.OUT: src,
            Direction.IN: dst,
            "q": ed.qualifier,
            "hour": hour,
        }
        yield {
            "k": key,
            "c": {"graph": graph, **counters, FRESH: True},
            "d": counters,
            "r": _room(counters),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="janusgraph://127.0.0.1:8182")
    ap.add_argument("--elements", type=int, default=60_000)
    ap.add_argument(
        "--single", type=int, default=3_000, help="elements for the one-per-request pass"
    )
    ap.add_argument("--repeat", type=int, default=3, help="measured batched runs (median)")
    ap.add_argument("--warm", type=int, default=30_000, help="elements of the warm-up write")
    ap.add_argument("--out", default=str(OUT / "janusgraph_write.json"))
    args = ap.parse_args()
    store = JanusGraphStore.from_uri(args.store)
    stamp = f"{int(time.time()):032x}"[-32:]

    def fresh_graph(account: str) -> str:
        arn = f"arn:aws:detective:us-east-1:{account}:graph:{stamp}"
        store.create_graph(GraphInfo(arn, account, int(time.time())))
        return arn

    # JIT warm-up of the server's write path (a long-running server is warm), not measured, in a
    # graph of its own so that the measured batches create every element as a first load does
    warm = fresh_graph("999999999999")
    store.write(workload(args.warm, seed=9).take(warm, []))
    store.delete_graph(warm)
    runs: list[float] = []
    n = 0
    for i in range(args.repeat):
        g1 = fresh_graph(f"1111111111{i:02d}")
        batch = workload(args.elements, seed=1).take(g1, [])
        n = elements_of(batch)
        runs.append(batched(store, g1, batch))
        print(f"  batched run {i + 1}: {n:,} elements in {runs[-1]:.2f} s", flush=True)
        store.delete_graph(g1)
    seconds = statistics.median(runs)
    # (c) not a target: a later load, whose vertices and many edges exist (the merge paths)
    g3 = fresh_graph("333333333333")
    store.write(workload(args.elements, seed=1).take(g3, []))
    later = workload(args.elements, seed=2).take(g3, [])
    n_later = elements_of(later)
    later_seconds = batched(store, g3, later)
    store.delete_graph(g3)
    g2 = fresh_graph("222222222222")
    single_batch = workload(args.elements, seed=1).take(g2, [])
    k, single_seconds = one_per_request(store, g2, single_batch, args.single)
    rate, single_rate = n / seconds, k / single_seconds
    store.delete_graph(g2)
    store.close()
    result: dict[str, Any] = {
        "store": args.store,
        "batched": {
            "elements": n,
            "seconds": round(seconds, 2),
            "elements_per_s": round(rate),
            "runs_seconds": [round(r, 2) for r in runs],
        },
        "one_per_request": {
            "elements": k,
            "seconds": round(single_seconds, 2),
            "elements_per_s": round(single_rate),
        },
        "later_load": {
            "elements": n_later,
            "seconds": round(later_seconds, 2),
            "elements_per_s": round(n_later / later_seconds),
        },
        "ratio": round(rate / single_rate, 1),
        "targets": {"batched_elements_per_s": 20_000, "ratio": 50},
    }
    print(
        f"batched writer:    {n:>8,} elements in {seconds:7.2f} s = {rate:>9,.0f} elements/s"
        f" (median of {len(runs)} runs)"
    )
    print(
        f"one per request:   {k:>8,} elements in {single_seconds:7.2f} s = "
        f"{single_rate:>9,.0f} elements/s"
    )
    print(
        f"later load:        {n_later:>8,} elements in {later_seconds:7.2f} s = "
        f"{n_later / later_seconds:>9,.0f} elements/s (vertices exist; not a target)"
    )
    print(f"ratio batched / one-per-request: {rate / single_rate:.1f}")
    print(f"[{'PASS' if rate >= 20_000 else 'FAIL'}] batched >= 20,000 elements/s")
    print(f"[{'PASS' if rate / single_rate >= 50 else 'FAIL'}] batched >= 50 x one-per-request")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
