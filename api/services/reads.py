"""A per-request cache of the store reads the services use (graph.store.GraphReads).

Profile panels overlap in what they read: the API call volume and the new-behavior panels both
need a principal's API calls in the scope. `CachedReads` makes each distinct `vertices`,
`neighbours`, `series` or `series_by_other` call once per request, even when two panels ask for
it at the same moment from two worker threads (the second waits for the first's answer).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from concurrent.futures import Future
from typing import Any

from graph.model import VertexRef
from graph.store import (
    Direction,
    GraphInfo,
    GraphStore,
    HourCounts,
    Neighbour,
    SearchPage,
    Vertex,
)


class CachedReads:
    """A request's view of the store: vertices, neighbours and both series memoized, the
    rest passed on.

    Results are shared between callers: treat them as read-only."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._memo: dict[Hashable, Future[Any]] = {}

    def _once(self, key: Hashable, read: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            future = self._memo.get(key)
            mine = future is None
            if future is None:
                future = self._memo[key] = Future()
        if not mine:
            return future.result()
        try:
            result = read(*args, **kwargs)
        except BaseException as e:
            future.set_exception(e)
            raise
        future.set_result(result)
        return result

    def list_graphs(self) -> list[GraphInfo]:
        return self.store.list_graphs()

    def vertices(self, graph: str, refs: Sequence[VertexRef]) -> dict[VertexRef, Vertex]:
        # panels and baselines of one principal each look it up: one read per request
        key = ("vertices", graph, frozenset(refs))  # a dict: the order does not matter
        return self._once(key, self.store.vertices, graph, refs)  # type: ignore[no-any-return]

    def search(
        self, graph: str, label: str, query: str, *, limit: int, after: str | None = None
    ) -> SearchPage:
        return self.store.search(graph, label, query, limit=limit, after=after)

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
        key = ("neighbours", graph, tuple(refs), edge_label, direction, start, end,
               other_labels, None if others is None else tuple(others), counts)  # fmt: skip
        return self._once(  # type: ignore[no-any-return]
            key,
            self.store.neighbours,
            graph,
            refs,
            edge_label,
            direction=direction,
            start=start,
            end=end,
            other_labels=other_labels,
            others=others,
            counts=counts,
        )

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
        key = ("series", graph, tuple(refs), edge_label, direction, start, end, other_labels,
               None if others is None else tuple(others), qualifier)  # fmt: skip
        return self._once(  # type: ignore[no-any-return]
            key,
            self.store.series,
            graph,
            refs,
            edge_label,
            direction=direction,
            start=start,
            end=end,
            other_labels=other_labels,
            others=others,
            qualifier=qualifier,
        )

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
        key = ("series_by_other", graph, tuple(refs), edge_label, direction, start, end)
        return self._once(  # type: ignore[no-any-return]
            key,
            self.store.series_by_other,
            graph,
            refs,
            edge_label,
            direction=direction,
            start=start,
            end=end,
        )
