"""Batched writes into JanusGraph: a compiled write script for edges and new vertices, mergeV
for the vertices that exist.

Edges, and vertices that cannot exist before the transaction (a look-up at its start did not
find them), go to graph.janusgraph_create's script, up to `SCRIPT_CHUNK` items per request: it
creates them through JanusGraph's own API, and adds an edge's counts into the stored edge when
its endpoints existed already (found through the vertex-centric index on `hour`).

Vertices that exist are merged with `inject(rows).unfold().mergeV()`, up to `CHUNK` (500) rows
a request, since their properties follow graph.model's merge rules (first, min, max, newest
version, last). A row carries its identity (`k`: id and label), the vertex's values for creation
(`c`, marked `fresh`) and the deltas for an existing one (`d`); after the merge,
`choose(has('fresh'))` either just drops the marker (a vertex created meanwhile already holds its
final values) or applies the deltas.

The client side: rows are encoded to GraphBinary by graph.janusgraph_wire (about 3x faster than
gremlinpython's writer, which also walks them once more in `Bytecode`), and by a helper thread
while the server works on the previous request (`pipelined`): a session's requests run one after
the other on the server, so without the overlap the client's share added to every request.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from operator import itemgetter
from typing import Any

from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource, __
from gremlin_python.process.traversal import Merge, P, T

from graph.batch import EdgeDelta, LedgerEntry, VertexDelta, WriteBatch
from graph.janusgraph_create import (
    BINDINGS,
    CONTENDED,
    CREATE_EDGES,
    CREATE_VERTICES,
    UPSERT_EDGES,
    WRITE,
    Submit,
    edge_items,
    vertex_item,
    vertex_values,
)
from graph.janusgraph_schema import LEDGER_LABEL, vertex_id
from graph.janusgraph_wire import Encoded, Encoder
from graph.model import VERTEX_TYPES, VertexRef
from graph.model import Merge as PropMerge
from graph.store import LedgerConflict

CHUNK = 500
# elements per write-script request: larger requests, fewer round trips (measured: 2,000 as
# fast as 5,000 on the local server)
SCRIPT_CHUNK = 2000
# requests prepared ahead of the one the server is working on
AHEAD = 4
FRESH = "fresh"
_OLDEST = -1  # the version of a vertex stored without one (versions are epoch seconds)


def chunks(items: Sequence[Any], size: int | None = None) -> Iterator[Sequence[Any]]:
    size = size or CHUNK
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Contended(Exception):
    """An element this transaction was creating as new already exists: another writer committed
    it meanwhile. The transaction must roll back and the batch be written again without the
    fast path (`write_batch(..., optimistic=False)`)."""


def write_batch(
    gtx: GraphTraversalSource,
    batch: WriteBatch,
    ledger: list[dict[str, Any]],
    *,
    submit: Submit,
    optimistic: bool = True,
) -> None:
    """Every element of `batch`, then its ledger rows; the caller commits or rolls back.

    The requests go out one after the other on the caller's session (its transaction), in the
    order of `requests`; a helper thread builds and encodes the next ones meanwhile, so the
    client's share of the work overlaps the server's instead of adding to it.

    `optimistic`: first look up which of the batch's vertices exist. A vertex that does not, and
    every edge with an endpoint that does not, cannot exist before this transaction: the write
    script (graph.janusgraph_create), run by `submit` in the same session, creates them without
    looking for them; it looks up and adds into the other edges. Should a vertex exist after all
    (another writer committed it since the look-up, or the batch names it twice), the script
    fails with CONTENDED and this raises `Contended`."""
    ledger_ids = [row["k"][T.id] for row in ledger]
    if ledger_ids:
        done = gtx.V(*ledger_ids).has("lstatus", P.neq("failed")).values("source").to_list()
        if done:
            raise LedgerConflict(sorted(set(done)))
    new = _new_vertices(gtx, batch) if optimistic else set()
    with contextlib.closing(pipelined(gtx, requests(batch, ledger, new))) as prepared:
        for item in prepared:
            try:
                if isinstance(item, dict):
                    submit(WRITE, item)
                else:
                    item.iterate()
            except GremlinServerError as e:
                if CONTENDED in str(e):
                    # (the server's message repeats the whole request: not worth keeping)
                    raise Contended(CONTENDED) from None
                raise


LOOKUP = 1000


def _new_vertices(gtx: GraphTraversalSource, batch: WriteBatch) -> set[str]:
    """Ids of the batch's vertices that do not exist (yet)."""
    ids = list(dict.fromkeys(vertex_id(batch.graph, vd.label, vd.key) for vd in batch.vertices))
    new = set(ids)
    for i in range(0, len(ids), LOOKUP):
        new.difference_update(gtx.V(*ids[i : i + LOOKUP]).id_().to_list())
    return new


# (merge step, rows), or (a binding name of graph.janusgraph_create.WRITE, its items)
Request = tuple[Callable[[GraphTraversal], GraphTraversal] | str, list[Any]]


def requests(
    batch: WriteBatch, ledger: list[dict[str, Any]], new: set[str] | frozenset[str] = frozenset()
) -> Iterator[Request]:
    """Requests in order: vertices, edges, ledger rows. Vertices in `new` are created by the
    write script, the others merged (their properties follow graph.model's merge rules). Edges
    touching a vertex in `new` are created by the script; the script adds the others into the
    stored edge when there is one."""
    graph = batch.graph
    # vertex ids once per vertex: the ends of most edges are among the batch's vertices
    ids: dict[VertexRef, str] = {}

    def id_of(ref: VertexRef) -> str:
        vid = ids.get(ref)
        if vid is None:
            vid = ids[ref] = vertex_id(graph, ref.label, ref.key)
        return vid

    created: list[list[Any]] = []
    by_label: dict[str, list[dict[str, Any]]] = {}
    for vd in batch.vertices:
        vid = id_of(vd.ref)
        if vid in new:
            created.append(vertex_item(graph, vd, vid))
        else:
            by_label.setdefault(vd.label, []).append(vertex_row(graph, vd))
    for chunk in chunks(created, SCRIPT_CHUNK):
        yield CREATE_VERTICES, list(chunk)
    for label, rows in by_label.items():
        merge = vertex_merge(label)
        for chunk in chunks(rows):
            yield merge, list(chunk)
    # The edges to look up go first, grouped by source vertex: the script's look-up on a vertex
    # also scans every relation the transaction has added to it so far (graph.janusgraph_create)
    creates: list[tuple[str, str, EdgeDelta]] = []
    upserts: list[tuple[str, str, EdgeDelta]] = []
    for ed in batch.edges:
        src, dst = id_of(ed.src), id_of(ed.dst)
        (creates if src in new or dst in new else upserts).append((src, dst, ed))
    upserts.sort(key=itemgetter(0))
    for kind, edges in ((UPSERT_EDGES, upserts), (CREATE_EDGES, creates)):
        items: list[list[Any]] = []
        for src, dst, ed in edges:
            items.extend(edge_items(graph, ed, src, dst))
            if len(items) >= SCRIPT_CHUNK:
                yield kind, items
                items = []
        if items:
            yield kind, items
    for chunk in chunks(ledger):
        yield _ledger_merge, list(chunk)


def _ledger_merge(t: GraphTraversal) -> GraphTraversal:
    return (
        t.merge_v(__.select("k"))
        .option(Merge.on_create, __.select("c"))
        .option(Merge.on_match, __.select("c"))
    )


_DONE = object()


def pipelined(
    gtx: GraphTraversalSource, reqs: Iterator[Request]
) -> Generator[GraphTraversal | dict[str, Encoded], None, None]:
    """The traversals of `reqs`, each `merge(gtx.inject(rows).unfold())` with its rows already
    in GraphBinary (graph.janusgraph_wire), and the bindings of its write-script requests,
    prepared by a helper thread up to `AHEAD` requests ahead of the consumer. An error while
    preparing is raised to the consumer, in order; a consumer that stops early (its request
    failed) stops the helper."""
    encoder = Encoder()
    ready: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for step, rows in reqs:
                prepared: GraphTraversal | dict[str, Encoded]
                if isinstance(step, str):
                    prepared = {
                        name: encoder.encode(rows if name == step else []) for name in BINDINGS
                    }
                else:
                    prepared = step(gtx.inject(encoder.encode(rows)).unfold())
                if not put(prepared):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put(e)
            return
        put(_DONE)

    helper = threading.Thread(target=produce, name="janusgraph-encode", daemon=True)
    helper.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        helper.join()


def vertex_row(graph: str, vd: VertexDelta) -> dict[str, Any]:
    vt = VERTEX_TYPES[vd.label]
    create = vertex_values(graph, vd)
    props = {k: v for k, v in vd.props.items() if v is not None}
    row: dict[str, Any] = {
        "k": {T.id: vertex_id(graph, vd.label, vd.key), T.label: vd.label},
        "c": {**create, FRESH: True},
        "d": {"first": vd.first, "last": vd.last},
        # LAST properties overwrite on match, through mergeV's own on_match map
        "m": {k: v for k, v in props.items() if vt.merge_of(k) is PropMerge.LAST},
    }
    for kind in (PropMerge.FIRST, PropMerge.MIN, PropMerge.MAX, PropMerge.NEWEST):
        row[kind.value] = {k: v for k, v in props.items() if vt.merge_of(k) is kind}
    if vt.version is not None and props.get(vt.version) is not None:
        row["ver"] = props[vt.version]
    return row


def widen(t: GraphTraversal) -> GraphTraversal:
    delta = __.select("x").select("d")
    return t.property(
        "first", __.union(__.values("first"), delta.clone().select("first")).min_()
    ).property("last", __.union(__.values("last"), delta.clone().select("last")).max_())


def vertex_merge(label: str) -> Callable[[GraphTraversal], GraphTraversal]:
    """mergeV for rows of one label: deltas only on existing vertices."""
    vt = VERTEX_TYPES[label]
    update = widen(__.identity())
    # NEWEST first: they compare the row's version with the stored one before MAX updates it
    for name, kind in vt.props:
        if kind is PropMerge.NEWEST and vt.version is not None:
            update = update.side_effect(_newest(name, vt.version))
    for name, kind in vt.props:
        given = __.select("x").select(kind.value).select(name)
        if kind is PropMerge.FIRST:
            update = update.side_effect(
                __.not_(__.values(name)).filter_(given.clone()).property(name, given.clone())
            )
        elif kind in (PropMerge.MIN, PropMerge.MAX):
            both = __.union(__.values(name), given.clone())
            pick = both.min_() if kind is PropMerge.MIN else both.max_()
            update = update.side_effect(__.filter_(given.clone()).property(name, pick))

    def merge(t: GraphTraversal) -> GraphTraversal:
        return (
            t.as_("x")
            .merge_v(__.select("k"))
            .option(Merge.on_create, __.select("c"))
            .option(Merge.on_match, __.select("m"))
            .choose(__.has(FRESH), __.properties(FRESH).drop(), update.clone())
        )

    return merge


def _newest(name: str, version: str) -> GraphTraversal:
    """Set `name` when unknown, when the row is newer, or on a version tie when its value is
    larger: graph.batch.merge_prop's NEWEST rule (a row without a version only fills)."""
    given = __.select("x").select(PropMerge.NEWEST.value).select(name)
    theirs = __.select("x").select("ver")
    newer = __.coalesce(__.values(version), __.constant(_OLDEST)).as_("sv")
    newer = newer.map(theirs.clone()).where(P.gt("sv"))
    tie = __.as_("v").values(version).as_("sv").map(theirs.clone()).where(P.eq("sv"))
    tie = tie.select("v").values(name).as_("old").map(given.clone()).where(P.gt("old"))
    apply = __.or_(__.not_(__.values(name)), newer, tie)
    return __.filter_(given.clone()).filter_(apply).property(name, given.clone())


def ledger_row(graph: str, e: LedgerEntry, props: dict[str, Any]) -> dict[str, Any]:
    vid = vertex_id(graph, LEDGER_LABEL, f"{e.source}|{e.version}")
    return {"k": {T.id: vid, T.label: LEDGER_LABEL}, "c": props}
