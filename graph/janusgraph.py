"""The behavior graph on a JanusGraph server, through gremlinpython (store contract backend).

Writes: a `WriteBatch` is applied in one JanusGraph transaction (a Gremlin session), as batched
`inject(rows).unfold().mergeV()/mergeE()` requests of a few hundred maps each — vertices first,
then summary edges, hourly edges and finally the ledger entries of the batch's source objects —
and committed once, so a source object's writes and its ledger entry commit or roll back
together. Vertex ids are deterministic (graph, label, key), so concurrent loaders address the same
vertex instead of creating duplicates. Counters are incremented in Gremlin, first/last observed
are min/max-ed, properties merged per graph.model's rules.

Two writers on the same vertices lose counter updates (JanusGraph has no write-write conflict
detection without LOCK consistency): run one loader per graph, as `gumshoe load` does.
Reads return primitives only (project/values), never elements: gremlinpython cannot decode
JanusGraph's relation ids.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

from gremlin_python.driver.client import Client
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.traversal import Direction, Merge, P, T

from graph.batch import EdgeDelta, LedgerEntry, VertexDelta, WriteBatch, validate_batch
from graph.janusgraph_reads import JanusGraphReads
from graph.janusgraph_schema import (
    COUNTERS,
    GRAPH_LABEL,
    HOURLY,
    LEDGER_LABEL,
    escape,
    schema_script,
    vertex_id,
)
from graph.model import EDGE_TYPES, VERTEX_TYPES, Merge as PropMerge, VertexRef
from graph.store import GraphInfo, GraphNotFound, LedgerConflict, StoreError, StoreUnavailable

CHUNK = 400
R = TypeVar("R")


def _unavailable(e: BaseException) -> bool:
    if isinstance(e, GremlinServerError):
        return False
    text = f"{type(e).__name__} {e}"
    return isinstance(e, OSError | ConnectionError | TimeoutError) or any(
        s in text for s in ("Connect", "connection", "closed", "Cannot connect", "refused")
    )


class JanusGraphStore(JanusGraphReads):
    def __init__(self, host: str, port: int, *, uri: str | None = None) -> None:
        self.uri = uri or f"janusgraph://{host}:{port}"
        self.url = f"ws://{host}:{port}/gremlin"
        try:
            self._conn = DriverRemoteConnection(self.url, "g")
            self.g: GraphTraversalSource = traversal().with_remote(self._conn)
            client = Client(self.url, "g")
            try:
                client.submit(schema_script()).all().result()
            finally:
                client.close()
        except Exception as e:
            if _unavailable(e):
                raise StoreUnavailable(f"cannot reach JanusGraph at {self.url}: {e}") from e
            raise

    @classmethod
    def from_uri(cls, uri: str) -> JanusGraphStore:
        parsed = urlparse(uri)
        if not parsed.hostname:
            raise ValueError(f"store URI {uri!r} names no host (janusgraph://host:port)")
        return cls(parsed.hostname, parsed.port or 8182, uri=uri)

    def close(self) -> None:
        self._conn.close()

    def _call(self, fn: Callable[[], R]) -> R:
        try:
            return fn()
        except StoreError:
            raise
        except Exception as e:
            if _unavailable(e):
                raise StoreUnavailable(f"JanusGraph at {self.url}: {e}") from e
            raise

    # -- graphs ------------------------------------------------------------------------------
    def create_graph(self, info: GraphInfo) -> GraphInfo:
        gid = escape(f"graph|{info.arn}")
        row = {
            "k": {T.id: gid, T.label: GRAPH_LABEL},
            "c": {
                "arn": info.arn,
                "admin_account": info.admin_account,
                "created_at": info.created,
                "takes_all": info.takes_all_accounts,
                "meta": json.dumps(dict(info.props), sort_keys=True),
            },
        }
        self._call(
            lambda: (
                self.g.inject(row)
                .merge_v(__.select("k"))
                .option(Merge.on_create, __.select("c"))
                .option(Merge.on_match, __.constant({}))
                .iterate()
            )
        )
        return next(g for g in self.list_graphs() if g.arn == info.arn)

    def list_graphs(self) -> list[GraphInfo]:
        rows = self._call(
            lambda: (
                self.g.V()
                .has_label(GRAPH_LABEL)
                .project("arn", "admin", "created", "all", "meta")
                .by("arn")
                .by("admin_account")
                .by("created_at")
                .by("takes_all")
                .by("meta")
                .to_list()
            )
        )
        infos = [
            GraphInfo(r["arn"], r["admin"], r["created"], r["all"], json.loads(r["meta"]))
            for r in rows
        ]
        return sorted(infos, key=lambda g: (g.created, g.arn))

    def _check_graph(self, arn: str) -> None:
        if not self._call(
            lambda: self.g.V(escape(f"graph|{arn}")).has_label(GRAPH_LABEL).count().next()
        ):
            raise GraphNotFound(f"no graph {arn} in {self.uri}")

    def delete_graph(self, arn: str) -> None:
        self._check_graph(arn)
        while self._call(
            lambda: self.g.V().has("graph", arn).limit(2000).side_effect(__.drop()).count().next()
        ):
            pass
        self._call(lambda: self.g.V(escape(f"graph|{arn}")).drop().iterate())

    # -- ledger ------------------------------------------------------------------------------
    def ledger(self, graph: str, sources: Sequence[str]) -> dict[str, list[LedgerEntry]]:
        self._check_graph(graph)
        out: dict[str, list[LedgerEntry]] = {}
        unique = list(dict.fromkeys(sources))
        for i in range(0, len(unique), CHUNK):
            chunk = unique[i : i + CHUNK]
            rows = self._call(
                lambda chunk=chunk: (
                    self.g.V()
                    .has(LEDGER_LABEL, "graph", graph)
                    .has("source", P.within(chunk))
                    .value_map()
                    .to_list()
                )
            )
            for r in rows:
                e = _ledger_entry({k: v[0] for k, v in r.items()})
                out.setdefault(e.source, []).append(e)
        for entries in out.values():
            entries.sort(key=lambda e: (e.loaded_at, e.version))
        return out

    # -- writes ------------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> None:
        validate_batch(batch)
        self._check_graph(batch.graph)
        tx = self.g.tx()
        try:
            gtx = tx.begin()
        except Exception as e:
            if _unavailable(e):
                raise StoreUnavailable(f"JanusGraph at {self.url}: {e}") from e
            raise
        try:
            self._write(gtx, batch)
            tx.commit()
        except BaseException as e:
            try:
                if tx.is_open():
                    tx.rollback()
            except Exception:  # noqa: BLE001 - the connection may be gone; nothing committed
                pass
            if isinstance(e, Exception) and not isinstance(e, StoreError) and _unavailable(e):
                raise StoreUnavailable(f"JanusGraph at {self.url}: {e}") from e
            raise

    def _write(self, gtx: GraphTraversalSource, batch: WriteBatch) -> None:
        graph = batch.graph
        ledger_ids = [
            vertex_id(graph, LEDGER_LABEL, f"{e.source}|{e.version}") for e in batch.ledger
        ]
        if ledger_ids:
            done = gtx.V(*ledger_ids).has("lstatus", P.neq("failed")).values("source").to_list()
            if done:
                raise LedgerConflict(sorted(set(done)))
        by_label: dict[str, list[VertexDelta]] = {}
        for vd in batch.vertices:
            by_label.setdefault(vd.label, []).append(vd)
        for label, vds in by_label.items():
            traversal_for = _vertex_traversal(label)
            for chunk in _chunks([_vertex_row(graph, vd) for vd in vds]):
                traversal_for(gtx.inject(chunk).unfold()).iterate()
        summary = [_summary_row(graph, ed) for ed in batch.edges]
        for chunk in _chunks(summary):
            _edge_traversal(gtx.inject(chunk).unfold(), with_first_last=True).iterate()
        hourly = [row for ed in batch.edges for row in _hourly_rows(graph, ed)]
        for chunk in _chunks(hourly):
            _edge_traversal(gtx.inject(chunk).unfold(), with_first_last=False).iterate()
        rows = [
            {"k": {T.id: vid, T.label: LEDGER_LABEL}, "c": _ledger_props(graph, e)}
            for vid, e in zip(ledger_ids, batch.ledger, strict=True)
        ]
        for chunk in _chunks(rows):
            gtx.inject(chunk).unfold().merge_v(__.select("k")).option(
                Merge.on_create, __.select("c")
            ).option(Merge.on_match, __.select("c")).iterate()

    def export(self, graph: str) -> Iterator[dict[str, Any]]:
        self._check_graph(graph)
        return self._export(graph)


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def _vertex_row(graph: str, vd: VertexDelta) -> dict[str, Any]:
    vt = VERTEX_TYPES[vd.label]
    props = {k: v for k, v in vd.props.items() if v is not None}
    row: dict[str, Any] = {
        "k": {T.id: vertex_id(graph, vd.label, vd.key), T.label: vd.label},
        "c": {"graph": graph, "nkey": vd.key, "first": vd.first, "last": vd.last, **props},
        "d": {"first": vd.first, "last": vd.last},
        "m": {k: v for k, v in props.items() if vt.merge_of(k) is PropMerge.LAST},
    }
    for kind in (PropMerge.FIRST, PropMerge.MIN, PropMerge.MAX):
        row[kind.value] = {k: v for k, v in props.items() if vt.merge_of(k) is kind}
    return row


def _vertex_traversal(label: str) -> Callable[[Any], Any]:
    """mergeV for rows of one label, with a step per property that needs more than overwrite."""
    vt = VERTEX_TYPES[label]

    def build(t: Any) -> Any:
        t = (
            t.as_("x")
            .merge_v(__.select("k"))
            .option(Merge.on_create, __.select("c"))
            .option(Merge.on_match, __.select("m"))
            .property(
                "first",
                __.union(__.values("first"), __.select("x").select("d").select("first")).min_(),
            )
            .property(
                "last",
                __.union(__.values("last"), __.select("x").select("d").select("last")).max_(),
            )
        )
        for name, kind in vt.props:
            given = __.select("x").select(kind.value).select(name)
            if kind is PropMerge.FIRST:
                t = t.side_effect(__.not_(__.values(name)).filter_(given).property(name, given))
            elif kind in (PropMerge.MIN, PropMerge.MAX):
                both = __.union(__.values(name), __.select("x").select(kind.value).select(name))
                pick = both.min_() if kind is PropMerge.MIN else both.max_()
                t = t.side_effect(__.filter_(given).property(name, pick))
        return t

    return build


def _summary_row(graph: str, ed: EdgeDelta) -> dict[str, Any]:
    totals = [0, 0, 0, 0]
    for counts in ed.hours.values():
        for i, c in enumerate(counts):
            totals[i] += c
    return {
        "k": {
            T.label: ed.label,
            Direction.OUT: vertex_id(graph, ed.src.label, ed.src.key),
            Direction.IN: vertex_id(graph, ed.dst.label, ed.dst.key),
            "q": ed.qualifier,
        },
        "c": {"graph": graph, "first": ed.first, "last": ed.last, **dict.fromkeys(COUNTERS, 0)},
        "d": {"first": ed.first, "last": ed.last, **dict(zip(COUNTERS, totals, strict=True))},
    }


def _hourly_rows(graph: str, ed: EdgeDelta) -> Iterator[dict[str, Any]]:
    src = vertex_id(graph, ed.src.label, ed.src.key)
    dst = vertex_id(graph, ed.dst.label, ed.dst.key)
    label = ed.label + HOURLY
    for hour, counts in ed.hours.items():
        padded = [*counts, 0, 0, 0, 0][:4]
        yield {
            "k": {
                T.label: label,
                Direction.OUT: src,
                Direction.IN: dst,
                "q": ed.qualifier,
                "hour": hour,
            },
            "c": {"graph": graph, **dict.fromkeys(COUNTERS, 0)},
            "d": dict(zip(COUNTERS, padded, strict=True)),
        }


def _edge_traversal(t: Any, *, with_first_last: bool) -> Any:
    t = (
        t.as_("x")
        .merge_e(__.select("k"))
        .option(Merge.on_create, __.select("c"))
        .option(Merge.on_match, __.constant({}))
    )
    if with_first_last:
        t = t.property(
            "first", __.union(__.values("first"), __.select("x").select("d").select("first")).min_()
        ).property(
            "last", __.union(__.values("last"), __.select("x").select("d").select("last")).max_()
        )
    for c in COUNTERS:
        t = t.property(c, __.union(__.values(c), __.select("x").select("d").select(c)).sum_())
    return t


def _ledger_props(graph: str, e: LedgerEntry) -> dict[str, Any]:
    return {
        "graph": graph,
        "source": e.source,
        "lversion": e.version,
        "size": e.size,
        "lstatus": e.status,
        "lkind": e.kind,
        "records": e.records,
        "loaded": e.loaded,
        "skipped": e.skipped,
        "errors": json.dumps(list(e.errors)),
        "loaded_at": e.loaded_at,
        "hint": e.hint,
    }


def _ledger_entry(p: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        p["source"],
        p["lversion"],
        p["size"],
        p["lstatus"],
        p["lkind"],
        p["records"],
        p["loaded"],
        p["skipped"],
        tuple(json.loads(p["errors"])),
        p["loaded_at"],
        p["hint"],
    )
