"""Baseline values of the API call volume panel (api/services/activity.py).

Expected, lower and upper values for every hour, and for principals the per-method scope bounds
and increased volume, come from the baselines package: `api_call_baselines` calls
`baselines.volume.api_call_baseline` for each principal (a fixed number of store reads, cached in
a `BaselineCache`), and fits an IP address's, a user agent's or a bucket's hourly series over the
45-day baseline window itself (one series read per entity type), with the same model.
`api_call_hourly_baselines` gives the hourly values alone, for any number of entities at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from api.services.activity import OBJECT_EDGES, HourlyBaseline
from api.services.batching import by_label, cached_split
from api.services.scope import Scope
from baselines.cache import BaselineCache, CacheKey
from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.volume import (
    ApiCallBaseline,
    Fitter,
    api_call_baseline,
    api_call_volume_baselines,
    dense,
    volume_buckets,
)
from baselines.window import baseline_start, scope_hours, training_notice
from graph.model import LEAF_PRINCIPALS, PRINCIPALS, VertexRef
from graph.store import Direction, GraphStore


def _object_baselines(
    store: GraphStore,
    graph: str,
    refs: list[VertexRef],
    scope: Scope,
    cache: BaselineCache | None,
    config: BaselineConfig,
) -> dict[VertexRef, ApiCallBaseline]:
    """Hourly bounds of the calls seen from addresses, user agents and buckets: their acting
    principals' calls, read as one series per entity type over the baseline window and the
    scope, fitted together (no per-method detail)."""
    start, end = scope.start, scope.end
    split = cached_split(store, graph, "api-object", refs, scope, cache, config, ApiCallBaseline)
    found, keys, out, todo = split.found, split.keys, split.out, split.todo
    if not todo:
        return out
    b0 = baseline_start(start, config)
    hours = scope_hours(b0, end)
    rows: dict[VertexRef, np.ndarray] = {}
    for label, group in by_label(todo).items():
        known = [r for r in group if r in found]
        got = (
            store.series(
                graph,
                known,
                OBJECT_EDGES[label],
                direction=Direction.IN,
                start=b0,
                end=end,
                other_labels=LEAF_PRINCIPALS,
            )
            if known
            else {}
        )
        for ref in group:
            rows[ref] = dense(got.get(ref, []), b0, hours, (0, 1))
    order = list(rows)
    never = np.iinfo(np.int64).max
    fitted = volume_buckets(
        [rows[r] for r in order],
        [found[r].first if r in found else never for r in order],
        b0=b0,
        start=start,
        config=config,
    )
    for ref, buckets in zip(order, fitted, strict=True):
        v = found.get(ref)
        result = ApiCallBaseline(
            ref, start, end, b0, buckets, (), (),
            training_notice(v.first if v else None, start, config),
        )  # fmt: skip
        out[ref] = result
        if cache is not None:
            cache.put(keys[ref], result)
    return out


def api_call_baselines(
    *,
    store: GraphStore,
    graph: str,
    refs: Sequence[VertexRef],
    scope: Scope,
    cache: BaselineCache | None = None,
    config: BaselineConfig = DEFAULT_CONFIG,
    fitter: Fitter | None = None,
) -> dict[VertexRef, ApiCallBaseline]:
    """The baseline of each entity's API call volume panel: hourly expected, lower and upper
    values (all calls and failed calls), and for principals the per-method bounds of the scope
    totals, increased volume and the training notice (baselines.volume.api_call_baseline, cached
    per principal and scope, fitted by `fitter` if given)."""
    wanted = list(dict.fromkeys(refs))
    out = {
        r: api_call_baseline(
            store=store,
            graph=graph,
            principal=r,
            start=scope.start,
            end=scope.end,
            config=config,
            cache=cache,
            fitter=fitter,
        )  # fmt: skip
        for r in wanted
        if r.label in PRINCIPALS
    }
    objects = [r for r in wanted if r.label in OBJECT_EDGES]
    out.update(_object_baselines(store, graph, objects, scope, cache, config))
    return out


def api_call_hourly_baselines(
    *,
    store: GraphStore,
    graph: str,
    refs: Sequence[VertexRef],
    scope: Scope,
    cache: BaselineCache | None = None,
    config: BaselineConfig = DEFAULT_CONFIG,
) -> dict[VertexRef, HourlyBaseline]:
    """Hourly expected, lower and upper values of each entity's API calls, with a number of
    store calls that does not grow with the entities (a profile or a search page alike):
    principals through `baselines.volume.api_call_volume_baselines` (two store calls for all of
    them; a principal's full `api_call_baseline`, when cached, is used as it is), addresses, user
    agents and buckets one series read per type. Cached per entity and scope."""
    wanted = list(dict.fromkeys(refs))
    principals = [r for r in wanted if r.label in PRINCIPALS]
    out: dict[VertexRef, HourlyBaseline] = {}
    if principals:
        found = store.vertices(graph, principals)
        keys: dict[VertexRef, CacheKey] = {}
        todo: list[VertexRef] = []
        for ref in principals:
            v = found.get(ref)
            version = None if v is None else (v.first, v.last)
            key = CacheKey(store.uri, graph, "api", ref, scope.start, scope.end, config, version)
            keys[ref] = CacheKey(
                store.uri, graph, "api-hourly", ref, scope.start, scope.end, config, version
            )
            hit = None if cache is None else (cache.get(key) or cache.get(keys[ref]))
            if isinstance(hit, ApiCallBaseline):
                out[ref] = HourlyBaseline(hit.buckets, hit.training)
            elif isinstance(hit, HourlyBaseline):
                out[ref] = hit
            elif v is not None:
                todo.append(ref)
        if todo:
            got = api_call_volume_baselines(
                store=store, graph=graph, principals=todo, start=scope.start, end=scope.end,
                config=config,
            )  # fmt: skip
            for ref, (buckets, notice) in got.items():
                out[ref] = HourlyBaseline(buckets, notice)
                if cache is not None:
                    cache.put(keys[ref], out[ref])
    objects = [r for r in wanted if r.label in OBJECT_EDGES]
    for ref, b in _object_baselines(store, graph, objects, scope, cache, config).items():
        out[ref] = HourlyBaseline(b.buckets, b.training)
    return out
