"""Which network interfaces stand for an EC2 instance, and in which hours.

VPC flow records name interfaces; an instance's traffic is that of its interfaces while they were
attached to it. The graph records when an attachment was seen (HAS_INTERFACE: RunInstances,
CreateNetworkInterface, AttachNetworkInterface, or flow records naming the instance), not when it
ended (there is no detach edge), so an interface counts for an instance from the hour it was
first seen on it until the hour it was first seen on another instance after that; moving back
and forth counts from the first sighting on each. An instance whose interfaces the graph does not
know stands for itself (its own FLOW edges).

Both the observed volume (api/services/flows.py) and its baseline (baselines/volume.py) use these
windows, so that an interface moved to another instance neither adds to the old instance's
traffic nor raises its expected values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from graph.model import HAS_INTERFACE, HOUR, VertexRef
from graph.store import Direction, GraphReads

Window = tuple[int, int]  # [start, end) in epoch seconds, whole hours
Attachments = dict[VertexRef, list[tuple[VertexRef, Window]]]


def attachment_windows(
    store: GraphReads, graph: str, instances: Sequence[VertexRef], start: int, end: int
) -> Attachments:
    """For each instance, the (interface or instance itself, window) pairs whose FLOW edges are
    its traffic within [start, end): two store calls, whatever the number of instances."""
    wanted = list(dict.fromkeys(instances))
    if not wanted:
        return {}
    nics = store.neighbours(graph, wanted, HAS_INTERFACE, direction=Direction.OUT, counts=False)
    interfaces = list(dict.fromkeys(n.ref for rows in nics.values() for n in rows))
    seen_on = (
        store.neighbours(graph, interfaces, HAS_INTERFACE, direction=Direction.IN, counts=False)
        if interfaces
        else {}
    )
    out: Attachments = {}
    for ref in wanted:
        attached = nics.get(ref, [])
        if not attached:
            out[ref] = [(ref, (start, end))]
            continue
        windows: list[tuple[VertexRef, Window]] = []
        for n in attached:
            since = n.first - n.first % HOUR
            others = [o.first - o.first % HOUR for o in seen_on.get(n.ref, []) if o.ref != ref]
            until = min((h for h in others if h > since), default=end)
            window = (max(start, since), min(end, until))
            if window[0] < window[1]:
                windows.append((n.ref, window))
        out[ref] = windows
    return out


def sources_of(attachments: Attachments) -> list[VertexRef]:
    """Every vertex whose FLOW edges some instance's windows read, once each."""
    return list(dict.fromkeys(s for pairs in attachments.values() for s, _ in pairs))


def within(
    rows: Iterable[tuple[int, tuple[int, ...]]], window: Window
) -> list[tuple[int, tuple[int, ...]]]:
    """The hourly rows of a series that fall inside a window."""
    since, until = window
    return [(hour, counts) for hour, counts in rows if since <= hour < until]
