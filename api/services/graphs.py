"""Which behavior graphs a caller may read.

A caller reads a graph only when its account is the graph's administrator account, as in
Detective, where member accounts contribute data but never see it. Without authentication
(`--no-auth`, loopback only) every graph is readable. A graph the caller may not read is reported
exactly like one that does not exist, so that its ARN reveals nothing.
"""

from __future__ import annotations

from api.auth import Caller
from api.services.errors import AccessDenied
from graph.store import GraphInfo, GraphReads


def visible_graphs(*, store: GraphReads, caller: Caller) -> list[GraphInfo]:
    """The graphs the caller administers, ordered by ARN."""
    return [g for g in store.list_graphs() if caller.administers(g.admin_account)]


def readable_graph(*, graphs: list[GraphInfo], arn: str) -> GraphInfo:
    """The graph named `arn` among the caller's visible graphs; raises AccessDenied otherwise."""
    for g in graphs:
        if g.arn == arn:
            return g
    raise AccessDenied(f"no behavior graph {arn} that the caller administers")
