"""Reads of the JanusGraph store, each one a bounded number of traversals returning primitives."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.traversal import P, TextP

from graph.export import edge_record, sorted_records, vertex_record
from graph.janusgraph_schema import (
    COUNTERS,
    GRAPH_LABEL,
    HOURLY,
    LEDGER_LABEL,
    MEMBERSHIP_LABELS,
    SEARCH_FIELDS,
    vertex_id,
)
from graph.model import COUNTER_MAX, EDGE_TYPES, HOUR, VERTEX_TYPES, VertexRef
from graph.store import (
    Direction,
    HourCounts,
    Neighbour,
    SearchPage,
    Vertex,
    hour_columns,
    in_range,
)

CHUNK = 400
R = TypeVar("R")
_META = {"graph", "nkey", "first", "last"}


def _saturated(sums: Iterable[int]) -> tuple[int, ...]:
    """Counter sums (Python ints, exact) clamped at COUNTER_MAX as the writers clamp them."""
    return tuple(min(x, COUNTER_MAX) for x in sums)


def _props(raw: dict[str, Any], label: str) -> dict[str, Any]:
    names = set(VERTEX_TYPES[label].prop_names)
    return {k: v for k, v in raw.items() if k in names}


class JanusGraphReads:
    g: GraphTraversalSource

    def _call(self, fn: Callable[..., R], *args: Any) -> R:
        raise NotImplementedError

    def _check_graph(self, arn: str) -> None:
        raise NotImplementedError

    def _fetch_vertices(self, ids: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            rows.extend(
                self._call(
                    lambda chunk: (
                        self.g.V(*chunk)
                        .project("label", "props")
                        .by(__.label())
                        .by(__.value_map())
                        .to_list()
                    ),
                    chunk,
                )
            )
        return rows

    def vertices(self, graph: str, refs: Sequence[VertexRef]) -> dict[VertexRef, Vertex]:
        self._check_graph(graph)
        ids = [vertex_id(graph, r.label, r.key) for r in dict.fromkeys(refs)]
        out: dict[VertexRef, Vertex] = {}
        for row in self._fetch_vertices(ids):
            v = _vertex(row)
            out[v.ref] = v
        return out

    def search(
        self, graph: str, label: str, query: str, *, limit: int, after: str | None = None
    ) -> SearchPage:
        if limit < 1:
            raise ValueError("limit must be positive")
        self._check_graph(graph)
        fields = ("nkey", *(f for f in VERTEX_TYPES[label].search if f in SEARCH_FIELDS))
        keys: set[str] = set()
        for field in fields:
            if "*" in query:
                pattern = ".*".join(re.escape(part) for part in query.split("*"))
                pred: Any = TextP.regex(pattern)
            elif query:
                pred = P.gte(query).and_(P.lt(_successor(query)))
            else:
                pred = None
            t = self.g.V().has("graph", graph).has_label(label)
            if pred is not None:
                t = t.has(field, pred)
            if after:
                t = t.has("nkey", P.gt(after))
            keys.update(self._call(lambda t: t.values("nkey").to_list(), t))
        page = sorted(keys)[: limit + 1]
        found = self.vertices(graph, [VertexRef(label, k) for k in page[:limit]])
        ordered = [found[VertexRef(label, k)] for k in page[:limit] if VertexRef(label, k) in found]
        return SearchPage(ordered, ordered[-1].key if len(page) > limit else None)

    def _edges(
        self,
        graph: str,
        refs: Sequence[VertexRef],
        label: str,
        direction: Direction,
        extra: Callable[[Any], Any],
        other_labels: frozenset[str] | None,
        others: Sequence[VertexRef] | None,
        fields: dict[str, Any],
    ) -> tuple[dict[str, VertexRef], list[dict[str, Any]]]:
        """Rows of `fields` (plus near id, other label and key) for matching edges of `refs`."""
        ids = {vertex_id(graph, r.label, r.key): r for r in dict.fromkeys(refs)}
        other_ids = (
            [vertex_id(graph, r.label, r.key) for r in others] if others is not None else None
        )
        rows: list[dict[str, Any]] = []
        id_list = list(ids)
        for i in range(0, len(id_list), CHUNK):
            chunk = id_list[i : i + CHUNK]

            def run(chunk: list[str] = chunk) -> list[dict[str, Any]]:
                t = self.g.V(*chunk)
                t = t.out_e(label) if direction is Direction.OUT else t.in_e(label)
                t = extra(t)
                if other_labels is not None or other_ids is not None:
                    end = __.in_v() if direction is Direction.OUT else __.out_v()
                    if other_labels is not None:
                        end = end.has_label(*sorted(other_labels)) if other_labels else end.limit(0)
                    if other_ids is not None:
                        end = end.has_id(*other_ids) if other_ids else end.limit(0)
                    t = t.where(end)

                # (gremlinpython traversals are mutable builders: a fresh one per modulator)
                def near() -> Any:
                    return __.out_v() if direction is Direction.OUT else __.in_v()

                def far() -> Any:
                    return __.in_v() if direction is Direction.OUT else __.out_v()

                t = t.project("near", "ol", "ok", *fields)
                t = t.by(near().id_()).by(far().label()).by(far().values("nkey"))
                for f in fields.values():
                    t = t.by(f)
                result: list[dict[str, Any]] = t.to_list()
                return result

            rows.extend(self._call(run))
        return ids, rows

    def neighbours(
        self,
        graph: str,
        refs: Sequence[VertexRef],
        edge_label: str,
        *,
        direction: Direction,
        start: int | None = None,
        end: int | None = None,
        other_labels: frozenset[str] | None = None,
        others: Sequence[VertexRef] | None = None,
        counts: bool = True,
    ) -> dict[VertexRef, list[Neighbour]]:
        in_range(start, end)
        self._check_graph(graph)
        n = len(EDGE_TYPES[edge_label].counters)
        summary_fields = {"q": "q", "first": "first", "last": "last", **{c: c for c in COUNTERS}}
        ids, rows = self._edges(
            graph, refs, edge_label, direction, lambda t: t, other_labels, others, summary_fields
        )
        found = {vertex_id(graph, r.label, r.key) for r in refs}
        present = set(self._call(lambda: self.g.V(*found).id_().to_list())) if found else set()
        out: dict[VertexRef, list[Neighbour]] = {ids[i]: [] for i in ids if i in present}
        sums: dict[tuple[str, str, str, str], list[int]] | None = None
        if start is not None and end is not None:
            sums = {}
            _, hourly = self._edges(
                graph,
                refs,
                edge_label + HOURLY,
                direction,
                lambda t: t.has("hour", P.gte(start).and_(P.lt(end))),
                other_labels,
                others,
                {"q": "q", **{c: c for c in COUNTERS}},
            )
            for h in hourly:
                acc = sums.setdefault((h["near"], h["ol"], h["ok"], h["q"]), [0, 0, 0, 0])
                for i, c in enumerate(COUNTERS):
                    acc[i] += h[c]
        for r in rows:
            if sums is None:
                summed = tuple(r[c] for c in COUNTERS[:n])
            else:
                got = sums.get((r["near"], r["ol"], r["ok"], r["q"]))
                if got is None:
                    continue
                summed = _saturated(got[:n])
            out[ids[r["near"]]].append(
                Neighbour(
                    VertexRef(r["ol"], r["ok"]),
                    r["q"],
                    r["first"],
                    r["last"],
                    summed if counts else (),
                )
            )
        for items in out.values():
            items.sort(key=lambda nb: (nb.ref.label, nb.ref.key, nb.qualifier))
        return out

    def series(
        self,
        graph: str,
        refs: Sequence[VertexRef],
        edge_label: str,
        *,
        direction: Direction,
        start: int,
        end: int,
        other_labels: frozenset[str] | None = None,
        others: Sequence[VertexRef] | None = None,
        qualifier: str | None = None,
    ) -> dict[VertexRef, list[tuple[int, tuple[int, ...]]]]:
        in_range(start, end)
        self._check_graph(graph)
        n = len(EDGE_TYPES[edge_label].counters)

        def hours(t: Any) -> Any:
            t = t.has("hour", P.gte(start).and_(P.lt(end)))
            return t.has("q", qualifier) if qualifier is not None else t

        ids, rows = self._edges(
            graph,
            refs,
            edge_label + HOURLY,
            direction,
            hours,
            other_labels,
            others,
            {"hour": "hour", **{c: c for c in COUNTERS}},
        )
        present_ids = list(ids)
        present = set(self._call(lambda: self.g.V(*present_ids).id_().to_list())) if ids else set()
        sums: dict[str, dict[int, list[int]]] = {i: {} for i in ids if i in present}
        for r in rows:
            acc = sums[r["near"]].setdefault(r["hour"], [0, 0, 0, 0])
            for i, c in enumerate(COUNTERS):
                acc[i] += r[c]
        return {
            ids[i]: [(h, _saturated(c[:n])) for h, c in sorted(by_hour.items())]
            for i, by_hour in sums.items()
        }

    def series_by_other(
        self,
        graph: str,
        refs: Sequence[VertexRef],
        edge_label: str,
        *,
        direction: Direction,
        start: int,
        end: int,
    ) -> dict[VertexRef, dict[VertexRef, HourCounts]]:
        in_range(start, end)
        hours = hour_columns(start, end)
        self._check_graph(graph)
        n = len(EDGE_TYPES[edge_label].counters)
        ids, rows = self._edges(
            graph,
            refs,
            edge_label + HOURLY,
            direction,
            lambda t: t.has("hour", P.gte(start).and_(P.lt(end))),
            None,
            None,
            {"hour": "hour", **{c: c for c in COUNTERS[:n]}},
        )
        sums: dict[tuple[str, VertexRef], list[list[int]]] = {}
        for r in rows:
            acc = sums.get((r["near"], other := VertexRef(r["ol"], r["ok"])))
            if acc is None:
                acc = sums[r["near"], other] = [[0] * hours for _ in range(n)]
            column = (r["hour"] - start) // HOUR
            for i, c in enumerate(COUNTERS[:n]):
                acc[i][column] += r[c]
        out: dict[VertexRef, dict[VertexRef, HourCounts]] = {}
        for (near, other), acc in sums.items():
            # int64 like the embedded store, saturating as its writer does
            out.setdefault(ids[near], {})[other] = np.array(
                [_saturated(row) for row in acc], dtype=np.int64
            )
        return out

    def _export(self, graph: str) -> Iterator[dict[str, Any]]:
        ids: list[str] = self._call(
            lambda: (
                self.g.V()
                .has("graph", graph)
                .not_(__.has_label(GRAPH_LABEL, LEDGER_LABEL, *MEMBERSHIP_LABELS))
                .id_()
                .to_list()
            )
        )
        records: list[dict[str, Any]] = []
        for row in self._fetch_vertices(ids):
            v = _vertex(row)
            records.append(vertex_record(graph, v.label, v.key, v.first, v.last, v.props))
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            edges = self._call(
                lambda chunk: (
                    self.g.V(*chunk)
                    .out_e()
                    .project(
                        "label", "sl", "sk", "dl", "dk", "q", "first", "last", "hour", *COUNTERS
                    )
                    .by(__.label())
                    .by(__.out_v().label())
                    .by(__.out_v().values("nkey"))
                    .by(__.in_v().label())
                    .by(__.in_v().values("nkey"))
                    .by("q")
                    .by(__.coalesce(__.values("first"), __.constant(-1)))
                    .by(__.coalesce(__.values("last"), __.constant(-1)))
                    .by(__.coalesce(__.values("hour"), __.constant(-1)))
                    .by("c0")
                    .by("c1")
                    .by("c2")
                    .by("c3")
                    .to_list()
                ),
                chunk,
            )
            grouped: dict[tuple[str, str, str, str, str, str], dict[str, Any]] = {}
            for e in edges:
                base = e["label"].removesuffix(HOURLY)
                key = (base, e["sl"], e["sk"], e["dl"], e["dk"], e["q"])
                slot = grouped.setdefault(key, {"hours": []})
                if e["label"].endswith(HOURLY):
                    slot["hours"].append((e["hour"], tuple(e[c] for c in COUNTERS)))
                else:
                    slot["first"], slot["last"] = e["first"], e["last"]
            for (label, sl, sk, dl, dk, q), slot in grouped.items():
                records.append(
                    edge_record(
                        graph,
                        label,
                        VertexRef(sl, sk),
                        VertexRef(dl, dk),
                        q,
                        slot["first"],
                        slot["last"],
                        slot["hours"],
                    )
                )
        return sorted_records(records)


def _vertex(row: dict[str, Any]) -> Vertex:
    raw = {k: v[0] for k, v in row["props"].items()}
    label = row["label"]
    return Vertex(label, raw["nkey"], raw["first"], raw["last"], _props(raw, label))


def _successor(text: str) -> str:
    return text[:-1] + chr(ord(text[-1]) + 1)
