"""Baselines of API call volume (principals), read from a store; VPC flow volume (instances) is
in baselines/flow_volume.py, with the helpers here.

These are the functions the API's service layer calls. Each reads the 45-day baseline window and
the scope in one range per store call, with a fixed number of calls whatever the entity's
activity (the per-method series of a principal come back in one `series_by_other` call, its
totals being their sum), fits every series of the entity
together (baselines.seasonal.fit_baselines), and returns immutable results:

- hourly buckets of the scope with the observed counts and expected, lower and upper values
  (all calls and failed calls);
- per API method: its scope total and the bounds of that total;
- increased volume: the methods whose scope total exceeds its upper bound, by how much. Only
  methods the principal also called in the baseline window qualify (a method never called
  before is newly observed behavior, baselines.new_behaviors), with at least
  `min_increased_calls` calls in the scope, and none are listed while the principal is in
  training.

A principal's activity is its own CALLED edges: the loader writes those of a role, an instance
and an account as rollups of their sessions and principals.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from baselines.cache import BaselineCache, CacheKey
from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.expected import BaselineResult, Floats
from baselines.seasonal import fit_baselines
from baselines.window import (
    TrainingNotice,
    baseline_start,
    check_scope,
    scope_hours,
    training_notice,
)
from graph.model import CALLED, HOUR, VertexRef
from graph.store import Direction, GraphStore, HourCounts

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class VolumeBucket:
    """One hour of API calls. Bounds are None without any history to compare with."""

    start: int
    success: int
    failed: int
    expected: float | None  # all calls (success + failed)
    lower: float | None
    upper: float | None
    failed_expected: float | None
    failed_lower: float | None
    failed_upper: float | None


@dataclass(frozen=True, slots=True)
class MethodBaseline:
    """One API method's calls over the whole scope, with the bounds of that total."""

    api: str  # the ApiOperation key, <eventSource>:<eventName>
    service: str
    method: str
    observed: int
    expected: float
    lower: float
    upper: float
    in_baseline: bool  # called at least once in the baseline window


@dataclass(frozen=True, slots=True)
class IncreasedVolume:
    api: str
    service: str
    method: str
    observed: int
    expected: float
    upper: float
    excess: float  # observed - upper


@dataclass(frozen=True, slots=True)
class ApiCallBaseline:
    entity: VertexRef
    start: int
    end: int
    baseline_start: int
    buckets: tuple[VolumeBucket, ...]
    methods: tuple[MethodBaseline, ...]  # methods called in the scope, by observed calls
    increased_volume: tuple[IncreasedVolume, ...]  # largest excess first
    training: TrainingNotice | None


def dense(
    rows: Sequence[tuple[int, Sequence[int]]], start: int, hours: int, counters: Sequence[int]
) -> Floats:
    """(len(counters), hours) array of a store series from `start` (hours without rows: 0)."""
    out = np.zeros((len(counters), hours))
    if not rows:
        return out
    # vectorized (a principal's methods over 46 days are tens of thousands of rows); counts are
    # integers, so the float sums are exact and the same as adding them one by one
    index = (np.fromiter((h for h, _ in rows), np.int64, len(rows)) - start) // HOUR
    width = max(counters) + 1
    values = np.array([c[:width] for _, c in rows], dtype=np.float64).reshape(len(rows), width)
    keep = (index >= 0) & (index < hours)
    index, values = index[keep], values[keep]
    for row, c in enumerate(counters):
        out[row] = np.bincount(index, weights=values[:, c], minlength=hours)
    return out


def _ok_failed(by_api: Mapping[VertexRef, HourCounts], hours: int) -> Floats:
    """(2, hours) successful and failed calls of a principal, summed over its methods
    (`series_by_other` rows; float like `dense`, exact for counts below 2^53)."""
    out: Floats = np.zeros((2, hours))
    for counts in by_api.values():
        out += counts[:2]
    return out


def rounded(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 6)


def cached_baseline(
    store: GraphStore,
    graph: str,
    kind: str,
    entity: VertexRef,
    start: int,
    end: int,
    *,
    config: BaselineConfig,
    cache: BaselineCache | None,
    data_version: Hashable,
    compute: Callable[[int | None], T],
    result: type[T],
) -> T:
    """An entity's baseline of one kind for a scope: the entity is read once, then the result
    comes from `cache` or from `compute(first observed)`. Keys hold the store, graph, kind,
    entity, scope and configuration, and the caller's data version, else the entity's observed
    span (see baselines.cache)."""
    check_scope(start, end)
    found = store.vertices(graph, [entity]).get(entity)
    first = found.first if found else None
    if cache is None:
        return compute(first)
    version = data_version
    if version is None and found is not None:
        version = (found.first, found.last)
    key = CacheKey(store.uri, graph, kind, entity, start, end, config, version)
    return cache.get_or_compute(key, lambda: compute(first), result)


def fit_window(
    rows: Floats, window_start: int, horizon: int, first: int | None, config: BaselineConfig
) -> BaselineResult:
    """Fit the window part of `rows` (the scope follows it); history from `first`."""
    history = np.full(rows.shape[0], first if first is not None else np.iinfo(np.int64).max)
    window = rows[:, : rows.shape[1] - horizon]
    return fit_baselines(
        window, start=window_start, horizon=horizon, history_start=history, config=config
    )


class Fitter(Protocol):
    """Where `api_call_baseline` fits (baselines.workers.FitPool: in worker processes); the
    default is `compute_api_call_baseline` in the calling thread."""

    def api_call_baseline(
        self, store: GraphStore, graph: str, principal: VertexRef, start: int, end: int,
        config: BaselineConfig, first: int | None,
    ) -> ApiCallBaseline: ...  # fmt: skip


def api_call_baseline(
    *,
    store: GraphStore,
    graph: str,
    principal: VertexRef,
    start: int,
    end: int,
    config: BaselineConfig = DEFAULT_CONFIG,
    cache: BaselineCache | None = None,
    data_version: Hashable = None,
    fitter: Fitter | None = None,
) -> ApiCallBaseline:
    """API call volume of `principal` in the scope [start, end) against its baseline.

    Two store calls: the vertex, and the hourly calls of each of its API methods over
    [start - 45 days, end) (`series_by_other`). A cache miss is computed by `fitter`, if given."""

    def compute(first: int | None) -> ApiCallBaseline:
        if fitter is not None:
            return fitter.api_call_baseline(store, graph, principal, start, end, config, first)
        return compute_api_call_baseline(store, graph, principal, start, end, config, first)

    return cached_baseline(
        store, graph, "api", principal, start, end, config=config, cache=cache,
        data_version=data_version, result=ApiCallBaseline, compute=compute,
    )  # fmt: skip


def compute_api_call_baseline(
    store: GraphStore, graph: str, principal: VertexRef, start: int, end: int,
    config: BaselineConfig, first: int | None,
) -> ApiCallBaseline:  # fmt: skip
    b0 = baseline_start(start, config)
    hours, horizon = scope_hours(b0, end), scope_hours(start, end)
    notice = training_notice(first, start, config)
    by_api = (
        store.series_by_other(
            graph, [principal], CALLED, direction=Direction.OUT, start=b0, end=end
        ).get(principal, {})
        if first is not None
        else {}
    )
    # the methods called in the scope, and every method's calls (success + failed)
    calls = {ref.key: counts[0] + counts[1] for ref, counts in by_api.items()}
    apis = sorted(a for a, row in calls.items() if row[hours - horizon :].any())
    ok_failed = _ok_failed(by_api, hours)
    # rows: all calls, failed calls, then every method of the scope
    matrix = np.vstack(
        [ok_failed.sum(axis=0), ok_failed[1], *(calls[a].astype(np.float64) for a in apis)]
    )
    fit = fit_window(matrix, b0, horizon, first, config)
    scope = matrix[:, hours - horizon :]
    success = ok_failed[0, hours - horizon :]
    buckets = tuple(
        VolumeBucket(
            start + i * HOUR,
            int(success[i]),
            int(scope[1, i]),
            rounded(fit.expected[0, i]),
            rounded(fit.lower[0, i]),
            rounded(fit.upper[0, i]),
            rounded(fit.expected[1, i]),
            rounded(fit.lower[1, i]),
            rounded(fit.upper[1, i]),
        )
        for i in range(horizon)
    )
    totals_window = fit.window()
    # whole columns at once (NaN -> 0, as without a baseline); per-method scalar calls added up
    # to milliseconds for an account's ~100 methods
    expected, lower, upper = (
        np.nan_to_num(b).tolist()
        for b in (totals_window.expected, totals_window.lower, totals_window.upper)
    )
    observed: list[float] = scope.sum(axis=1).tolist()
    before: list[bool] = np.asarray(matrix[:, : hours - horizon].any(axis=1)).tolist()
    methods = []
    for j, api in enumerate(apis, start=2):
        service, _, method = api.partition(":")
        methods.append(
            MethodBaseline(
                api,
                service,
                method,
                int(observed[j]),
                round(expected[j], 6),
                round(lower[j], 6),
                round(upper[j], 6),
                before[j],
            )
        )
    methods.sort(key=lambda m: (-m.observed, m.api))
    increased = (
        []
        if notice is not None
        else [
            IncreasedVolume(
                m.api,
                m.service,
                m.method,
                m.observed,
                m.expected,
                m.upper,
                round(m.observed - m.upper, 6),
            )
            for m in methods
            if m.in_baseline and m.observed > m.upper and m.observed >= config.min_increased_calls
        ]
    )
    increased.sort(key=lambda v: (-v.excess, v.api))
    return ApiCallBaseline(
        principal, start, end, b0, buckets, tuple(methods), tuple(increased), notice
    )


def api_call_volume_baselines(
    *,
    store: GraphStore,
    graph: str,
    principals: Sequence[VertexRef],
    start: int,
    end: int,
    config: BaselineConfig = DEFAULT_CONFIG,
) -> dict[VertexRef, tuple[tuple[VolumeBucket, ...], TrainingNotice | None]]:
    """Hourly buckets (no per-method detail) of many principals at once: two store calls and one
    vectorized fit for any number of principals (e.g. a summary of the busiest principals).
    Principals the graph does not hold are left out."""
    check_scope(start, end)
    b0 = baseline_start(start, config)
    hours = scope_hours(b0, end)
    found = store.vertices(graph, list(dict.fromkeys(principals)))
    refs = sorted(found)
    if not refs:
        return {}
    # per method, as the principal's own baseline reads it: a profile asking for both reads once
    by_api = store.series_by_other(graph, refs, CALLED, direction=Direction.OUT, start=b0, end=end)
    dense_rows = [_ok_failed(by_api.get(r, {}), hours) for r in refs]
    fitted = volume_buckets(
        dense_rows, [found[r].first for r in refs], b0=b0, start=start, config=config
    )
    return {
        ref: (buckets, training_notice(found[ref].first, start, config))
        for ref, buckets in zip(refs, fitted, strict=True)
    }


def volume_buckets(
    rows: Sequence[Floats],
    firsts: Sequence[int],
    *,
    b0: int,
    start: int,
    config: BaselineConfig,
) -> list[tuple[VolumeBucket, ...]]:
    """Hourly buckets of several entities from their (success, failed) rows over [b0, end): all
    calls and failed calls of every entity fitted in one vectorized call, history from each
    entity's first observation (`firsts`), the hours from `start` on being the scope."""
    hours = rows[0].shape[1]
    horizon = hours - (start - b0) // HOUR
    total = np.vstack([d.sum(axis=0) for d in rows])
    failed = np.vstack([d[1] for d in rows])
    window = slice(0, hours - horizon)
    fit = fit_baselines(
        np.vstack([total[:, window], failed[:, window]]),
        start=b0,
        horizon=horizon,
        history_start=np.array(list(firsts) * 2, dtype=np.int64),
        config=config,
    )
    n = len(rows)
    out = []
    for i, row in enumerate(rows):
        ok = row[0, hours - horizon :]
        bad = row[1, hours - horizon :]
        out.append(
            tuple(
                VolumeBucket(
                    start + h * HOUR,
                    int(ok[h]),
                    int(bad[h]),
                    rounded(fit.expected[i, h]),
                    rounded(fit.lower[i, h]),
                    rounded(fit.upper[i, h]),
                    rounded(fit.expected[n + i, h]),
                    rounded(fit.lower[n + i, h]),
                    rounded(fit.upper[n + i, h]),
                )
                for h in range(horizon)
            )
        )
    return out
