"""Overall VPC flow volume of an EC2 instance or an IP address: hourly bytes and activity rows.

An instance's traffic is the FLOW edges of its network interfaces (loaders/vpcflow_graph.py:
the instance's own FLOW edges are a subset of those and are read only for an instance whose
interfaces the graph does not know). An address's traffic is the FLOW edges that reach it from
interfaces, each row naming the interface and its instance.

In and out are from the profiled entity's side: bytes into an instance are bytes out of the
remote address, so on an IP address profile directions are turned around. Rows are one per
(remote or local entity, protocol, local port, remote port, direction, action), with ports and
direction as the interface sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from api.services.batching import by_label, neighbours, series
from api.services.reads import GraphReads
from api.services.scope import Scope
from graph.model import ENI, FLOW, HAS_INTERFACE, INSTANCE, IP, VertexRef
from graph.store import Direction, Neighbour

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
    """The VPC flow volume panel of each instance and IP address (other labels are skipped)."""
    span = (scope.start, scope.end)
    groups = by_label(refs)
    instances, addresses = groups.get(INSTANCE, []), groups.get(IP, [])
    nics = neighbours(store, graph, instances, HAS_INTERFACE, Direction.OUT)
    # whose FLOW edges stand for each instance: its interfaces, else its own
    sources = {r: [n.ref for n in nics.get(r, [])] or [r] for r in instances}
    flow_refs = [s for ss in sources.values() for s in ss]
    hourly = series(store, graph, flow_refs, FLOW, Direction.OUT, span=span)
    edges = neighbours(store, graph, flow_refs, FLOW, Direction.OUT, span=span)
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
        for s in sources[ref]:
            for hour, counts in hourly.get(s, []):
                acc = merged.setdefault(hour, [0, 0, 0, 0])
                for i in range(4):
                    acc[i] += counts[i]
        own: list[tuple[Neighbour, str | None]] = [
            (n, None) for s in sources[ref] for n in edges.get(s, [])
        ]
        out[ref] = _volume(scope, [(h, tuple(c)) for h, c in merged.items()], own, False)
    for ref in addresses:
        rows = [
            (n, owner[0].ref.key if (owner := owners.get(n.ref)) else None)
            for n in ip_edges.get(ref, [])
        ]
        out[ref] = _volume(scope, ip_hourly.get(ref, []), rows, True)
    return out
