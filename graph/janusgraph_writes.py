"""Batched upserts into JanusGraph: `inject(rows).unfold().mergeV()` / `mergeE()`.

Each request merges a few hundred rows. A row carries its identity (`k`: id and label, or label,
endpoints, qualifier and hour), the element's values for creation (`c`, marked `fresh`) and the
deltas to apply when the element exists (`d`). After the merge, `choose(has('fresh'))` either
just drops the marker (a new element already holds its final values) or applies the deltas:
first/last widened with min/max, counters summed, properties merged per graph.model's rules.
New elements — most of a load — so cost a plain merge; measured on the local server, the
min/max/sum steps on every row would cost about 2.5x as much.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource, __
from gremlin_python.process.traversal import Direction, Merge, P, T

from graph.batch import EdgeDelta, LedgerEntry, VertexDelta, WriteBatch
from graph.janusgraph_schema import COUNTERS, HOURLY, LEDGER_LABEL, vertex_id
from graph.model import VERTEX_TYPES
from graph.model import Merge as PropMerge
from graph.store import LedgerConflict

CHUNK = 500
FRESH = "fresh"
_OLDEST = -1  # the version of a vertex stored without one (versions are epoch seconds)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_batch(gtx: GraphTraversalSource, batch: WriteBatch, ledger: list[dict[str, Any]]) -> None:
    """Every element of `batch`, then its ledger rows; the caller commits or rolls back."""
    ledger_ids = [row["k"][T.id] for row in ledger]
    if ledger_ids:
        done = gtx.V(*ledger_ids).has("lstatus", P.neq("failed")).values("source").to_list()
        if done:
            raise LedgerConflict(sorted(set(done)))
    by_label: dict[str, list[dict[str, Any]]] = {}
    for vd in batch.vertices:
        by_label.setdefault(vd.label, []).append(vertex_row(batch.graph, vd))
    for label, rows in by_label.items():
        merge = vertex_merge(label)
        for chunk in chunks(rows):
            merge(gtx.inject(list(chunk)).unfold()).iterate()
    summary = [summary_row(batch.graph, ed) for ed in batch.edges]
    hourly = [row for ed in batch.edges for row in hourly_rows(batch.graph, ed)]
    for rows, widen in ((summary, True), (hourly, False)):
        for chunk in chunks(rows):
            edge_merge(gtx.inject(list(chunk)).unfold(), widen=widen).iterate()
    for chunk in chunks(ledger):
        gtx.inject(list(chunk)).unfold().merge_v(__.select("k")).option(
            Merge.on_create, __.select("c")
        ).option(Merge.on_match, __.select("c")).iterate()


def vertex_row(graph: str, vd: VertexDelta) -> dict[str, Any]:
    vt = VERTEX_TYPES[vd.label]
    props = {k: v for k, v in vd.props.items() if v is not None}
    create = {"graph": graph, "nkey": vd.key, "first": vd.first, "last": vd.last, **props}
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


def _widen(t: GraphTraversal) -> GraphTraversal:
    delta = __.select("x").select("d")
    return t.property(
        "first", __.union(__.values("first"), delta.clone().select("first")).min_()
    ).property("last", __.union(__.values("last"), delta.clone().select("last")).max_())


def vertex_merge(label: str) -> Callable[[GraphTraversal], GraphTraversal]:
    """mergeV for rows of one label: deltas only on existing vertices."""
    vt = VERTEX_TYPES[label]
    update = _widen(__.identity())
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


def edge_merge(t: GraphTraversal, *, widen: bool) -> GraphTraversal:
    update = _widen(__.identity()) if widen else __.identity()
    for c in COUNTERS:
        update = update.property(
            c, __.union(__.values(c), __.select("x").select("d").select(c)).sum_()
        )
    return (
        t.as_("x")
        .merge_e(__.select("k"))
        .option(Merge.on_create, __.select("c"))
        .option(Merge.on_match, __.constant({}))
        .choose(__.has(FRESH), __.properties(FRESH).drop(), update)
    )


def summary_row(graph: str, ed: EdgeDelta) -> dict[str, Any]:
    totals = [0, 0, 0, 0]
    for counts in ed.hours.values():
        for i, c in enumerate(counts):
            totals[i] += c
    counters = dict(zip(COUNTERS, totals, strict=True))
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
    }


def hourly_rows(graph: str, ed: EdgeDelta) -> Iterator[dict[str, Any]]:
    src = vertex_id(graph, ed.src.label, ed.src.key)
    dst = vertex_id(graph, ed.dst.label, ed.dst.key)
    label = ed.label + HOURLY
    for hour, counts in ed.hours.items():
        counters = dict(zip(COUNTERS, (*counts, 0, 0, 0, 0)[:4], strict=True))
        key = {
            T.label: label,
            Direction.OUT: src,
            Direction.IN: dst,
            "q": ed.qualifier,
            "hour": hour,
        }
        yield {"k": key, "c": {"graph": graph, **counters, FRESH: True}, "d": counters}


def ledger_row(graph: str, e: LedgerEntry, props: dict[str, Any]) -> dict[str, Any]:
    vid = vertex_id(graph, LEDGER_LABEL, f"{e.source}|{e.version}")
    return {"k": {T.id: vid, T.label: LEDGER_LABEL}, "c": props}
