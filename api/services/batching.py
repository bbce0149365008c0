"""Store reads for many entities at once, skipping the round trip when there is nothing to ask.

Every profile service reads through these, in a fixed sequence of steps per batch of entities:
the number of store calls depends on which panels and entity types are asked for, never on how
many rows the graph holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from api.services.reads import GraphReads
from graph.model import VertexRef
from graph.store import Direction, Neighbour, Vertex


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
