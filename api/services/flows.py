"""Overall VPC flow volume of an EC2 instance or an IP address: hourly bytes and activity rows.

An instance's traffic is the FLOW edges of its network interfaces in the hours they were attached
to it (loaders/vpcflow_graph.py: the instance's own FLOW edges are a subset of those and are read
only for an instance whose interfaces the graph does not know). An interface counts from the hour
a HAS_INTERFACE edge first saw it on the instance until the hour it was first seen on another
instance after that (`baselines.attachments`); the hourly baseline
(`baselines.volume.vpc_flow_baseline`) reads the 45 days before the scope through the same
windows. An address's traffic is the FLOW edges that reach it from interfaces, each row naming
the interface and its instance.

In and out are from the profiled entity's side: bytes into an instance are bytes out of the
remote address, so on an IP address profile directions are turned around. Rows are one per
(remote or local entity, protocol, local port, remote port, direction, action), with ports and
direction as the interface sees them.

Baselines (expected, lower and upper bytes in and out for every hour) come from the baselines
package: `baselines.volume.vpc_flow_baseline` for an instance, and for an address the same fit
over its FLOW edges from interfaces (turned around), both cached in a `BaselineCache`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from api.services.batching import by_label, cached_split, neighbours, series
from api.services.scope import Scope
from baselines.attachments import Window, attachment_windows, sources_of, within
from baselines.cache import BaselineCache
from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.flow_volume import FlowBaseline, FlowBucket, vpc_flow_baseline, with_total
from baselines.seasonal import fit_baselines
from baselines.volume import dense, rounded
from baselines.window import baseline_start, scope_hours, training_notice
from graph.model import ENI, FLOW, HAS_INTERFACE, HOUR, INSTANCE, IP, VertexRef
from graph.store import Direction, GraphReads, GraphStore, Neighbour, Vertex

PROTOCOLS = {"1": "ICMP", "6": "TCP", "17": "UDP", "58": "ICMPv6"}
_TURN = {"ingress": "egress", "egress": "ingress"}


@dataclass(slots=True)
class FlowHour:
    start: int
    bytes_in: int = 0
    bytes_out: int = 0
    packets_in: int = 0
    packets_out: int = 0


@dataclass(slots=True)
class FlowRow:
    peer: VertexRef  # a remote IpAddress (instance profile) or an interface (address profile)
    instance: str | None  # the interface's instance, on an address profile
    protocol: str
    local_port: str  # "-": not in the flow log format
    remote_port: str
    direction: str  # ingress | egress, from the profiled entity's side
    action: str  # ACCEPT | REJECT
    totals: FlowHour = field(default_factory=lambda: FlowHour(0))
    first: int = 0
    last: int = 0


@dataclass(slots=True)
class VpcFlowVolume:
    scope: Scope
    totals: FlowHour
    buckets: list[FlowHour]
    rows: list[FlowRow]


def _qualifier(q: str) -> tuple[str, str, str, str, str]:
    parts = (q.split("/") + ["-"] * 5)[:5]
    protocol = PROTOCOLS.get(parts[0], parts[0])
    return protocol, parts[1], parts[2], parts[3], parts[4]


def _add(into: FlowHour, counts: tuple[int, ...], turned: bool) -> None:
    b_in, b_out, p_in, p_out = counts[:4]
    if turned:
        b_in, b_out, p_in, p_out = b_out, b_in, p_out, p_in
    into.bytes_in += b_in
    into.bytes_out += b_out
    into.packets_in += p_in
    into.packets_out += p_out


def _volume(
    scope: Scope,
    hourly: list[tuple[int, tuple[int, ...]]],
    edges: list[tuple[Neighbour, str | None]],
    turned: bool,
) -> VpcFlowVolume:
    hours = {h: FlowHour(h) for h in scope.hours}
    totals = FlowHour(scope.start)
    for hour, counts in hourly:
        _add(hours[hour], counts, turned)
        _add(totals, counts, turned)
    rows: dict[tuple[VertexRef, str], FlowRow] = {}
    for n, instance in edges:
        row = rows.get((n.ref, n.qualifier))
        if row is None:
            protocol, local, remote, direction, action = _qualifier(n.qualifier)
            if turned:
                direction = _TURN.get(direction, direction)
            row = rows[(n.ref, n.qualifier)] = FlowRow(
                n.ref, instance, protocol, local, remote, direction, action, first=n.first
            )
        _add(row.totals, n.counts, turned)
        row.first, row.last = min(row.first, n.first), max(row.last, n.last)
    ordered = sorted(
        rows.values(),
        key=lambda r: (-(r.totals.bytes_in + r.totals.bytes_out), r.peer, r.protocol),
    )
    return VpcFlowVolume(scope, totals, list(hours.values()), ordered)


def vpc_flow_volume(
    *, store: GraphReads, graph: str, refs: Sequence[VertexRef], scope: Scope
) -> dict[VertexRef, VpcFlowVolume]:
    """The VPC flow volume panel of each instance and IP address (other labels are skipped).
    An instance's interfaces count only in the hours they were attached to it
    (`baselines.attachments`)."""
    span = (scope.start, scope.end)
    groups = by_label(refs)
    instances, addresses = groups.get(INSTANCE, []), groups.get(IP, [])
    sources = attachment_windows(store, graph, instances, scope.start, scope.end)
    flow_refs = sources_of(sources)
    hourly = series(store, graph, flow_refs, FLOW, Direction.OUT, span=span)
    # rows: the FLOW edges summed over each source's window, one read per distinct window
    # (one for the whole scope when every interface was attached all along)
    by_window: dict[Window, list[VertexRef]] = {}
    for ss in sources.values():
        for s, window in ss:
            by_window.setdefault(window, []).append(s)
    edges: dict[tuple[VertexRef, Window], list[Neighbour]] = {}
    for window, group in by_window.items():
        for s, found in neighbours(store, graph, group, FLOW, Direction.OUT, span=window).items():
            edges[(s, window)] = found
    ip_hourly = series(
        store, graph, addresses, FLOW, Direction.IN, span=span, other_labels=frozenset({ENI})
    )
    ip_edges = neighbours(
        store, graph, addresses, FLOW, Direction.IN, span=span, other_labels=frozenset({ENI})
    )
    owners = neighbours(
        store, graph, {n.ref for rows in ip_edges.values() for n in rows}, HAS_INTERFACE,
        Direction.IN,
    )  # fmt: skip
    out = {}
    for ref in instances:
        merged: dict[int, list[int]] = {}
        for s, (since, until) in sources[ref]:
            for hour, counts in hourly.get(s, []):
                if not since <= hour < until:
                    continue
                acc = merged.setdefault(hour, [0, 0, 0, 0])
                for i in range(4):
                    acc[i] += counts[i]
        own: list[tuple[Neighbour, str | None]] = [
            (n, None) for s, window in sources[ref] for n in edges.get((s, window), [])
        ]
        out[ref] = _volume(scope, [(h, tuple(c)) for h, c in merged.items()], own, False)
    for ref in addresses:
        rows = [
            (n, owner[0].ref.key if (owner := owners.get(n.ref)) else None)
            for n in ip_edges.get(ref, [])
        ]
        out[ref] = _volume(scope, ip_hourly.get(ref, []), rows, True)
    return out


def _address_baselines(
    store: GraphStore,
    graph: str,
    refs: list[VertexRef],
    scope: Scope,
    cache: BaselineCache | None,
    config: BaselineConfig,
) -> dict[VertexRef, FlowBaseline]:
    """Bytes in and out of addresses against their baselines: one series read for all of them
    (FLOW edges from interfaces, turned to the address's side), fitted together."""
    start, end = scope.start, scope.end
    split = cached_split(store, graph, "flow-address", refs, scope, cache, config, FlowBaseline)
    found, keys, out, todo = split.found, split.keys, split.out, split.todo
    if not todo:
        return out
    b0 = baseline_start(start, config)
    hours, horizon = scope_hours(b0, end), scope_hours(start, end)
    known = [r for r in todo if r in found]
    got = (
        store.series(
            graph,
            known,
            FLOW,
            direction=Direction.IN,
            start=b0,
            end=end,
            other_labels=frozenset({ENI}),
        )  # fmt: skip
        if known
        else {}
    )
    # the interface's bytes out are the address's bytes in
    rows = [dense(got.get(r, []), b0, hours, (1, 0)) for r in todo]
    fitted = _fit_flows(todo, rows, found, start, end, b0, hours, horizon, config)
    for ref, result in fitted.items():
        out[ref] = result
        if cache is not None:
            cache.put(keys[ref], result)
    return out


def _fit_flows(
    refs: list[VertexRef], rows: list[np.ndarray], found: dict[VertexRef, Vertex], start: int,
    end: int, b0: int, hours: int, horizon: int, config: BaselineConfig,
) -> dict[VertexRef, FlowBaseline]:  # fmt: skip
    """Fit (bytes in, bytes out) rows of each entity over [b0, end), and their sum: the window
    before `start` is the history, the last `horizon` hours the scope."""
    never = np.iinfo(np.int64).max
    rows = [with_total(m) for m in rows]
    firsts = np.array(
        [found[r].first if r in found else never for r in refs for _ in (0, 1, 2)],
        dtype=np.int64,
    )
    fit = fit_baselines(
        np.vstack([m[:, : hours - horizon] for m in rows]),
        start=b0,
        horizon=horizon,
        history_start=firsts,
        config=config,
    )
    out = {}
    for i, ref in enumerate(refs):
        scoped = rows[i][:, hours - horizon :]
        j, k, t = 3 * i, 3 * i + 1, 3 * i + 2
        buckets = tuple(
            FlowBucket(
                start + h * HOUR,
                int(scoped[0, h]),
                int(scoped[1, h]),
                rounded(fit.expected[j, h]),
                rounded(fit.lower[j, h]),
                rounded(fit.upper[j, h]),
                rounded(fit.expected[k, h]),
                rounded(fit.lower[k, h]),
                rounded(fit.upper[k, h]),
                rounded(fit.expected[t, h]),
                rounded(fit.lower[t, h]),
                rounded(fit.upper[t, h]),
            )
            for h in range(horizon)
        )
        v = found.get(ref)
        out[ref] = FlowBaseline(
            ref, start, end, b0, buckets, training_notice(v.first if v else None, start, config)
        )
    return out


def _instance_baselines(
    store: GraphStore,
    graph: str,
    refs: list[VertexRef],
    scope: Scope,
    cache: BaselineCache | None,
    config: BaselineConfig,
) -> dict[VertexRef, FlowBaseline]:
    """`baselines.volume.vpc_flow_baseline` for several instances at once (a search page): four
    store calls for all of them, one fit; cached under the same keys as that function's."""
    start, end = scope.start, scope.end
    split = cached_split(store, graph, "flow", refs, scope, cache, config, FlowBaseline)
    found, keys, out, todo = split.found, split.keys, split.out, split.todo
    if not todo:
        return out
    b0 = baseline_start(start, config)
    hours, horizon = scope_hours(b0, end), scope_hours(start, end)
    known = [r for r in todo if r in found]
    windows = attachment_windows(store, graph, known, b0, end)
    flows = series(store, graph, sources_of(windows), FLOW, Direction.OUT, span=(b0, end))
    rows = []
    for ref in todo:
        matrix = np.zeros((2, hours))
        for source, window in windows.get(ref, []):
            matrix += dense(within(flows.get(source, []), window), b0, hours, (0, 1))
        rows.append(matrix)
    out.update(_fit_flows(todo, rows, found, start, end, b0, hours, horizon, config))
    if cache is not None:
        for ref in todo:
            cache.put(keys[ref], out[ref])
    return out


def vpc_flow_baselines(
    *,
    store: GraphStore,
    graph: str,
    refs: Sequence[VertexRef],
    scope: Scope,
    cache: BaselineCache | None = None,
    config: BaselineConfig = DEFAULT_CONFIG,
) -> dict[VertexRef, FlowBaseline]:
    """The baseline of each instance's and address's VPC flow volume panel: hourly expected,
    lower and upper bytes in and out, and the training notice (other labels are skipped)."""
    groups = by_label(refs)
    out = {
        r: vpc_flow_baseline(
            store=store,
            graph=graph,
            instance=r,
            start=scope.start,
            end=scope.end,
            config=config,
            cache=cache,
        )  # fmt: skip
        for r in groups.get(INSTANCE, [])
    }
    out.update(_address_baselines(store, graph, groups.get(IP, []), scope, cache, config))
    return out
