"""Store reads for many entities at once, skipping the round trip when there is nothing to ask.

Every profile service reads through these, in a fixed sequence of steps per batch of entities:
the number of store calls depends on which panels and entity types are asked for, never on how
many rows the graph holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from api.services.scope import Scope
from baselines.cache import BaselineCache, CacheKey
from baselines.config import BaselineConfig
from graph.model import VertexRef
from graph.store import Direction, GraphReads, GraphStore, Neighbour, Vertex

R = TypeVar("R")


@dataclass(slots=True)
class CachedSplit(Generic[R]):
    """Entities of a batch baseline: their vertices, the cached results, and the rest to fit."""

    found: dict[VertexRef, Vertex]
    keys: dict[VertexRef, CacheKey]
    out: dict[VertexRef, R] = field(default_factory=dict)
    todo: list[VertexRef] = field(default_factory=list)


def cached_split(
    store: GraphStore,
    graph: str,
    kind: str,
    refs: list[VertexRef],
    scope: Scope,
    cache: BaselineCache | None,
    config: BaselineConfig,
    result: type[R],
) -> CachedSplit[R]:
    """One vertex read for `refs`, then each entity's baseline from `cache` when it holds one of
    type `result` under (kind, entity, scope, config, first/last observed), else in `todo`."""
    found = store.vertices(graph, refs) if refs else {}
    split: CachedSplit[R] = CachedSplit(found, {})
    for ref in refs:
        v = found.get(ref)
        version = None if v is None else (v.first, v.last)
        key = split.keys[ref] = CacheKey(
            store.uri, graph, kind, ref, scope.start, scope.end, config, version
        )
        hit = cache.get(key) if cache is not None else None
        if isinstance(hit, result):
            split.out[ref] = hit
        else:
            split.todo.append(ref)
    return split


def neighbours(
    store: GraphReads,
    graph: str,
    refs: Iterable[VertexRef],
    edge_label: str,
    direction: Direction,
    *,
    span: tuple[int, int] | None = None,
    other_labels: frozenset[str] | None = None,
    others: Sequence[VertexRef] | None = None,
    counts: bool = True,
) -> dict[VertexRef, list[Neighbour]]:
    """`store.neighbours` over the distinct `refs` (every ref present in the result)."""
    wanted = list(dict.fromkeys(refs))
    if not wanted or (others is not None and not others):
        return {r: [] for r in wanted}
    start, end = span if span is not None else (None, None)
    got = store.neighbours(
        graph,
        wanted,
        edge_label,
        direction=direction,
        start=start,
        end=end,
        other_labels=other_labels,
        others=others,
        counts=counts,
    )
    return {r: got.get(r, []) for r in wanted}


def series(
    store: GraphReads,
    graph: str,
    refs: Iterable[VertexRef],
    edge_label: str,
    direction: Direction,
    *,
    span: tuple[int, int],
    other_labels: frozenset[str] | None = None,
) -> dict[VertexRef, list[tuple[int, tuple[int, ...]]]]:
    wanted = list(dict.fromkeys(refs))
    if not wanted:
        return {}
    got = store.series(
        graph,
        wanted,
        edge_label,
        direction=direction,
        start=span[0],
        end=span[1],
        other_labels=other_labels,
    )
    return {r: got.get(r, []) for r in wanted}


def by_label(refs: Iterable[VertexRef]) -> dict[str, list[VertexRef]]:
    out: dict[str, list[VertexRef]] = {}
    for r in dict.fromkeys(refs):
        out.setdefault(r.label, []).append(r)
    return out


def vertices(store: GraphReads, graph: str, refs: Iterable[VertexRef]) -> dict[VertexRef, Vertex]:
    wanted = list(dict.fromkeys(refs))
    return store.vertices(graph, wanted) if wanted else {}
