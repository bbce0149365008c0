"""Per-request DataLoaders: every panel of every entity in one response is read in batches.

Each loader collects the keys its resolvers ask for during one tick of the event loop, groups
them by (graph, options) and calls its service function once per group, in a worker thread (the
store is blocking). A response therefore costs a number of store round trips that depends on the
panels and entity types asked for, not on how many entities or rows it holds. Loaders are built
per request (never shared): their cache must not outlive the request.

Baselines are the exception: their results are immutable and cached per process in a
`BaselineCache` (one per app, passed in), keyed by entity, scope and the entity's observed span;
so are the API call volume and new-behavior panels (shared between requests: read-only).
Their loaders read the store itself and only run when a response asks for a baseline value:
hourly bounds cost a fixed number of store calls per batch (one entity or a search page), the
per-method bounds and increased volume two per principal (baselines.volume). A principal's
volume and new-behavior panels start those loads with their own (`prefetch`) when the response
asks for them, so that the 45-day reads overlap the panels' instead of following them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import partial
from typing import Any, TypeVar, cast

from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from api.services import (
    activity,
    activity_baselines,
    behaviors,
    entities,
    findings,
    flows,
    interactions,
)
from api.services.activity import HourlyBaseline
from api.services.reads import CachedReads
from api.services.scope import Scope
from baselines.cache import BaselineCache, CacheKey
from baselines.config import DEFAULT_CONFIG
from baselines.volume import ApiCallBaseline
from baselines.workers import FitPool
from graph.model import VertexRef
from graph.store import GraphReads, GraphStore, Vertex

T = TypeVar("T")
# (graph ARN, entity, options): options is a hashable tuple of the panel's other arguments
Key = tuple[str, VertexRef, tuple[Hashable, ...]]
Batch = Callable[[str, list[VertexRef], tuple[Hashable, ...]], dict[VertexRef, Any]]


def _loader(batch: Batch, default: Any) -> DataLoader[Key, Any]:
    return DataLoader(load_fn=_batched(batch, default))


def _batched(batch: Batch, default: Any) -> Callable[[list[Key]], Awaitable[list[Any]]]:
    async def load(keys: list[Key]) -> list[Any]:
        groups: dict[tuple[str, tuple[Hashable, ...]], list[VertexRef]] = {}
        for graph, ref, options in keys:
            groups.setdefault((graph, options), []).append(ref)

        def run() -> dict[tuple[str, tuple[Hashable, ...]], dict[VertexRef, Any]]:
            # one worker thread for the whole batch: thread hops cost more than the reads
            return {g: batch(g[0], refs, g[1]) for g, refs in groups.items()}

        results = await run_in_threadpool(run)
        return [results[(g, o)].get(r, default) for g, r, o in keys]

    return load


class _MemoWithUri:
    """A request's memoized reads as the baselines package reads a store."""

    def __init__(self, reads: GraphReads, uri: str) -> None:
        self.uri = uri
        self.vertices = reads.vertices
        self.neighbours = reads.neighbours
        self.series = reads.series
        self.series_by_other = reads.series_by_other


class Loaders:
    """The loaders of one request. Keys: (graph ARN, VertexRef, options tuple)."""

    def __init__(
        self, backend: GraphStore, cache: BaselineCache | None = None, pool: FitPool | None = None
    ) -> None:
        # every read of the request goes through one cache: panels share what they both read
        store: GraphReads = CachedReads(backend)
        self.store = store

        def vertices(
            graph: str, refs: list[VertexRef], _: tuple[Hashable, ...]
        ) -> dict[VertexRef, Vertex]:
            return entities.get_vertices(store=store, graph=graph, refs=refs)

        def scoped(fn: Callable[..., dict[VertexRef, Any]]) -> Batch:
            def batch(
                graph: str, refs: list[VertexRef], o: tuple[Hashable, ...]
            ) -> dict[VertexRef, Any]:
                return fn(store=store, graph=graph, refs=refs, scope=o[0])

            return batch

        def involved(
            graph: str, refs: list[VertexRef], o: tuple[Hashable, ...]
        ) -> dict[VertexRef, Any]:
            scope, archived = o
            assert isinstance(scope, Scope | None) and isinstance(archived, bool)
            return findings.involved_findings(
                store=store, graph=graph, refs=refs, scope=scope, include_archived=archived
            )

        def groups(
            graph: str, refs: list[VertexRef], o: tuple[Hashable, ...]
        ) -> dict[VertexRef, Any]:
            scope, inactive = o
            assert isinstance(scope, Scope | None) and isinstance(inactive, bool)
            return findings.finding_groups_of(
                store=store, graph=graph, refs=refs, scope=scope, include_inactive=inactive
            )

        def plain(fn: Callable[..., dict[VertexRef, Any]]) -> Batch:
            return lambda graph, refs, _: fn(store=store, graph=graph, refs=refs)

        # the baselines read through the request's memo too (panels asking for the hourly and
        # the per-method baseline of one principal at once share its reads), with the store's
        # URI, part of every BaselineCache key
        memo = cast(GraphStore, _MemoWithUri(store, backend.uri))

        def baselines(fn: Callable[..., dict[VertexRef, Any]]) -> Batch:
            def batch(
                graph: str, refs: list[VertexRef], o: tuple[Hashable, ...]
            ) -> dict[VertexRef, Any]:
                return fn(store=memo, graph=graph, refs=refs, scope=o[0], cache=cache)

            return batch

        # baselines this request computes (started beside the panels, resolvers.prefetch) may
        # or may not be cached by the time the volume panel looks: it takes only those of
        # earlier requests, so that what it reads does not depend on the threads' timing
        started = cache.now() if cache is not None else None

        def volume_panel(
            graph: str, refs: list[VertexRef], o: tuple[Hashable, ...]
        ) -> dict[VertexRef, Any]:
            scope = o[0]
            assert isinstance(scope, Scope)
            return activity.api_call_volume(
                store=memo, graph=graph, refs=refs, scope=scope, cache=cache,
                cached_before=started,
            )  # fmt: skip

        def kept(kind: str, batch: Batch) -> Batch:
            """`batch` with its results kept in the BaselineCache per entity and scope, under
            the entity's observed span like every baseline (new activity of the entity misses
            it; see baselines.cache): the panels over weeks of an account's activity sum
            hundreds of thousands of hourly rows, which a profile asked for again (an analyst
            coming back to it, a frontend refetching it) need not sum again."""
            if cache is None:
                return batch

            def run(
                graph: str, refs: list[VertexRef], o: tuple[Hashable, ...]
            ) -> dict[VertexRef, Any]:
                scope = o[0]
                if not isinstance(scope, Scope):
                    return batch(graph, refs, o)
                found = store.vertices(graph, refs)
                keys = {
                    ref: CacheKey(backend.uri, graph, kind, ref, scope.start, scope.end,
                                  DEFAULT_CONFIG, (v.first, v.last))
                    for ref, v in found.items()
                }  # fmt: skip
                out: dict[VertexRef, Any] = {}
                todo: list[VertexRef] = []
                for ref in refs:
                    hit = cache.get(keys[ref]) if ref in keys else None
                    if hit is None:
                        todo.append(ref)
                    else:
                        out[ref] = hit
                if todo:
                    got = batch(graph, todo, o)
                    out.update(got)
                    for ref in todo:
                        if ref in keys and ref in got:
                            cache.put(keys[ref], got[ref])
                return out

            return run

        self.vertex = _loader(vertices, None)
        self.api_call_baseline = _loader(
            # fitted in the server's worker processes, if it has any
            baselines(partial(activity_baselines.api_call_baselines, fitter=pool)),
            None,
        )
        self.api_call_hourly = DataLoader(
            load_fn=self._hourly(baselines(activity_baselines.api_call_hourly_baselines))
        )
        self.vpc_flow_baseline = _loader(baselines(flows.vpc_flow_baselines), None)
        # the volume panel takes a principal's hourly calls from its cached baseline, if any
        self.api_call_volume = _loader(kept("panel-api-volume", volume_panel), None)
        # which items are new is a baseline (45 days of history): cached like the others
        self.new_behaviors = _loader(
            kept("panel-new-behaviors", baselines(behaviors.new_behaviors)), None
        )
        self.resource_interaction = _loader(scoped(interactions.resource_interaction), None)
        self.vpc_flow_volume = _loader(scoped(flows.vpc_flow_volume), None)
        self.involved_findings = _loader(involved, [])
        self.finding_groups = _loader(groups, [])
        self.involved_entities = _loader(plain(findings.involved_entities), [])
        self.group_findings = _loader(plain(findings.group_findings), [])

    def _hourly(self, batch: Batch) -> Callable[[list[Key]], Awaitable[list[Any]]]:
        """The hourly baselines' loads: a principal whose per-method baseline the request
        computes as well (its volume and new-behavior panels both asked for bounds) takes its
        hours from that one, the first rows of the same fit, instead of fitting them again
        beside it (activity_baselines does the same with a cached one)."""
        compute = _batched(batch, None)

        async def load(keys: list[Key]) -> list[Any]:
            # sibling resolvers start their loads in the same turn of the event loop
            await asyncio.sleep(0)
            started = {k: f for k in keys if (f := self.api_call_baseline.cache_map.get(k))}
            rest = [k for k in keys if k not in started]
            found = dict(zip(rest, await compute(rest), strict=True)) if rest else {}
            out = []
            for k in keys:
                if k in started:
                    full = await started[k]
                    if isinstance(full, ApiCallBaseline):
                        out.append(HourlyBaseline(full.buckets, full.training))
                        continue
                    (found[k],) = await compute([k])
                out.append(found[k])
            return out

        return load

    async def run(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """A one-off service call (search, lookups) in a worker thread."""
        return await run_in_threadpool(partial(fn, store=self.store, **kwargs))


def load(
    loader: DataLoader[Key, Any], graph: str, ref: VertexRef, *options: Hashable
) -> Awaitable[Any]:
    return loader.load((graph, ref, tuple(options)))


def prefetch(loader: DataLoader[Key, Any], graph: str, ref: VertexRef, *options: Hashable) -> None:
    """Start a load that a resolver further down the response will await (the loader keeps its
    future for the request): a baseline's 45 days of reads then run beside its panel's reads,
    not after the panel is answered and its sub-fields resolve."""
    future = load(loader, graph, ref, *options)
    if isinstance(future, asyncio.Future):
        # awaited later, or never if that resolver does not run (an error above it): either way
        # no "exception was never retrieved" report for it
        future.add_done_callback(lambda f: None if f.cancelled() else f.exception())


def load_many(
    loader: DataLoader[Key, Any], graph: str, refs: Sequence[VertexRef]
) -> Awaitable[list[Any]]:
    return loader.load_many([(graph, r, ()) for r in refs])


def prime(loader: DataLoader[Key, Any], graph: str, found: dict[VertexRef, Vertex]) -> None:
    """Seed the vertex loader with vertices a panel read along with its rows: the entities they
    name then resolve without another round trip, however the event loop orders the panels."""
    loader.prime_many({(graph, ref, ()): v for ref, v in found.items()})
