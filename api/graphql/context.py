"""The typed per-request context every resolver receives as `info.context`.

It holds the caller (authenticated before the query runs), the store, the request's DataLoaders
and the clock that default scopes are cut from. Graphs are listed once per request: every check
that a caller may read a graph reuses that list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types.nodes import SelectedField

from api.auth import Caller
from api.graphql.loaders import Loaders
from api.services import graphs as graph_service
from api.services.scope import Scope, scope_or_default
from baselines.cache import BaselineCache
from baselines.workers import FitPool
from graph.store import GraphInfo, GraphStore


@dataclass
class Context:
    store: GraphStore
    caller: Caller
    clock: Callable[[], float]
    loaders: Loaders
    _graphs: asyncio.Future[list[GraphInfo]] | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        store: GraphStore,
        caller: Caller,
        clock: Callable[[], float],
        cache: BaselineCache | None = None,
        pool: FitPool | None = None,
    ) -> Context:
        return cls(store, caller, clock, Loaders(store, cache, pool))

    async def graphs(self) -> list[GraphInfo]:
        """The graphs this caller administers (read once per request)."""
        if self._graphs is None:
            self._graphs = asyncio.ensure_future(
                self.loaders.run(graph_service.visible_graphs, caller=self.caller)
            )
        return await self._graphs

    async def graph(self, arn: str) -> GraphInfo:
        """The graph, if the caller may read it; raises AccessDenied otherwise."""
        return graph_service.readable_graph(graphs=await self.graphs(), arn=arn)

    def scope(self, given: ScopeInput | None) -> Scope:
        if given is None:
            return scope_or_default(None, None, now=self.clock())
        return scope_or_default(given.start, given.end, now=self.clock())


@strawberry.input(
    description="Scope time: UTC, on the hour, one hour to one year. New behavior compares it "
    "with the 45 days before its start."
)
class ScopeInput:
    start: datetime
    end: datetime


Info = strawberry.Info[Context, None]


def selects(info: Info, names: frozenset[str]) -> bool:
    """Whether the field being resolved selects any of `names` (GraphQL names) among its
    sub-fields, at any depth, through fragments too: baselines are read only when asked for."""

    def walk(selections: list[Any]) -> bool:
        for s in selections:
            if isinstance(s, SelectedField) and s.name in names:
                return True
            if walk(getattr(s, "selections", None) or []):
                return True
        return False

    return any(walk(f.selections) for f in info.selected_fields)
