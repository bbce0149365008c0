"""Baseline of the VPC flow volume of an EC2 instance, read from a store.

The traffic of an instance is that of its network interfaces in the hours they were attached to
it (baselines.attachments), in the 45 days before the scope as in the scope; its own FLOW edges
are a subset, used only for an instance whose interfaces the graph does not know (see
loaders/vpcflow_graph.py). Bytes in, bytes out
and their sum are fitted as three series (bounds of the two directions cannot be added) with the
same model as API calls (baselines.volume).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from baselines.attachments import attachment_windows, sources_of, within
from baselines.cache import BaselineCache
from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.expected import Floats
from baselines.volume import cached_baseline, dense, fit_window, rounded
from baselines.window import (
    TrainingNotice,
    baseline_start,
    scope_hours,
    training_notice,
)
from graph.model import FLOW, HOUR, VertexRef
from graph.store import Direction, GraphStore


@dataclass(frozen=True, slots=True)
class FlowBucket:
    start: int
    bytes_in: int
    bytes_out: int
    expected_in: float | None
    lower_in: float | None
    upper_in: float | None
    expected_out: float | None
    lower_out: float | None
    upper_out: float | None
    # all bytes (in + out) as their own series: bounds of the two directions cannot be added
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True, slots=True)
class FlowBaseline:
    entity: VertexRef
    start: int
    end: int
    baseline_start: int
    buckets: tuple[FlowBucket, ...]
    training: TrainingNotice | None


def with_total(matrix: Floats) -> Floats:
    """(bytes in, bytes out) rows -> (in, out, in + out): the sum is fitted as its own series."""
    return np.vstack([matrix, matrix.sum(axis=0, keepdims=True)])


def vpc_flow_baseline(
    *,
    store: GraphStore,
    graph: str,
    instance: VertexRef,
    start: int,
    end: int,
    config: BaselineConfig = DEFAULT_CONFIG,
    cache: BaselineCache | None = None,
    data_version: Hashable = None,
) -> FlowBaseline:
    """Bytes in and out of an EC2 instance in the scope against its baseline, each interface
    counted only while it was attached to the instance (`baselines.attachments`; four store
    calls: the vertex, its interfaces, their other instances, the hourly FLOW counters)."""
    return cached_baseline(
        store, graph, "flow", instance, start, end, config=config, cache=cache,
        data_version=data_version, result=FlowBaseline,
        compute=lambda first: _vpc_flow_baseline(store, graph, instance, start, end, config,
                                                 first),
    )  # fmt: skip


def _vpc_flow_baseline(
    store: GraphStore, graph: str, instance: VertexRef, start: int, end: int,
    config: BaselineConfig, first: int | None,
) -> FlowBaseline:  # fmt: skip
    b0 = baseline_start(start, config)
    hours, horizon = scope_hours(b0, end), scope_hours(start, end)
    matrix = np.zeros((2, hours))
    if first is not None:
        pairs = attachment_windows(store, graph, [instance], b0, end)[instance]
        sources = sources_of({instance: pairs})
        flows = store.series(graph, sources, FLOW, direction=Direction.OUT, start=b0, end=end)
        for source, window in pairs:
            # bytes_in, bytes_out of the interface while it was attached to this instance
            matrix += dense(within(flows.get(source, []), window), b0, hours, (0, 1))
    matrix = with_total(matrix)
    fit = fit_window(matrix, b0, horizon, first, config)
    scope = matrix[:, hours - horizon :]
    buckets = tuple(
        FlowBucket(
            start + i * HOUR,
            int(scope[0, i]),
            int(scope[1, i]),
            rounded(fit.expected[0, i]),
            rounded(fit.lower[0, i]),
            rounded(fit.upper[0, i]),
            rounded(fit.expected[1, i]),
            rounded(fit.lower[1, i]),
            rounded(fit.upper[1, i]),
            rounded(fit.expected[2, i]),
            rounded(fit.lower[2, i]),
            rounded(fit.upper[2, i]),
        )
        for i in range(horizon)
    )
    return FlowBaseline(instance, start, end, b0, buckets, training_notice(first, start, config))
