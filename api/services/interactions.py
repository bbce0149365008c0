"""Resource interaction: role assumption around a principal, as Detective's tab shows it.

- a user, federated user, AWS service or account: the role sessions it started in the scope and
  the roles those sessions belong to;
- a role: its sessions active in the scope, who started them, and the roles they went on to
  assume (role chaining);
- a role session: its role, who started it, the instance it ran on, and the sessions it started
  in the scope (role chaining) with their roles;
- an EC2 instance: its instance-profile sessions active in the scope, their roles, and who
  launched it.

Who started a session is recorded at AssumeRole time, which may precede the scope: it is read
over all time. Everything else is limited to the scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from api.services.batching import by_label, neighbours, vertices
from api.services.scope import Scope
from graph.model import (
    ACCOUNT,
    ASSUMED_ROLE,
    CHAINED_TO,
    FEDERATED,
    INSTANCE,
    LAUNCHED,
    ROLE,
    RUNS_SESSION,
    SERVICE,
    SESSION,
    STARTED_SESSION,
    USER,
    VertexRef,
)
from graph.store import Direction, GraphReads, Neighbour, Vertex

STARTERS = frozenset({USER, FEDERATED, SERVICE, ACCOUNT})
LABELS = STARTERS | {ROLE, SESSION, INSTANCE}


@dataclass(slots=True)
class Interaction:
    ref: VertexRef  # the entity at the other end
    first: int
    last: int
    count: int
    via: str = ""  # the AssumeRole* call, where the graph records it
    through: list[VertexRef] = field(default_factory=list)  # sessions linking a role


@dataclass(slots=True)
class ResourceInteraction:
    scope: Scope
    role: Interaction | None = None  # a session's role
    instance: Interaction | None = None  # the instance a session ran on
    started_by: list[Interaction] = field(default_factory=list)  # who started a session
    sessions: list[Interaction] = field(default_factory=list)  # a role's or instance's sessions
    assumed_by: list[Interaction] = field(default_factory=list)  # who started a role's sessions
    sessions_started: list[Interaction] = field(default_factory=list)
    roles_assumed: list[Interaction] = field(default_factory=list)
    launched_by: list[Interaction] = field(default_factory=list)  # an instance's launchers
    # every entity above, read with the panel so that showing them costs no more round trips
    vertices: dict[VertexRef, Vertex] = field(default_factory=dict)


def _one(n: Neighbour) -> Interaction:
    return Interaction(n.ref, n.first, n.last, n.counts[0], n.qualifier)


def _merge(rows: Iterable[tuple[Neighbour, VertexRef | None]]) -> list[Interaction]:
    """One interaction per entity: spans widened, counts summed, linking sessions listed."""
    out: dict[VertexRef, Interaction] = {}
    for n, through in rows:
        i = out.get(n.ref)
        if i is None:
            i = out[n.ref] = _one(n)
        else:
            i.first, i.last = min(i.first, n.first), max(i.last, n.last)
            i.count += n.counts[0]
            if n.qualifier and n.qualifier not in i.via.split(", "):
                i.via = ", ".join(filter(None, (i.via, n.qualifier)))
        if through is not None and through not in i.through:
            i.through.append(through)
    return sorted(out.values(), key=lambda i: (-i.last, i.ref))


def resource_interaction(
    *, store: GraphReads, graph: str, refs: Sequence[VertexRef], scope: Scope
) -> dict[VertexRef, ResourceInteraction]:
    """The resource interaction panel of each principal (other labels are skipped)."""
    span = (scope.start, scope.end)
    groups = by_label(r for r in refs if r.label in LABELS)
    starters = [r for label in STARTERS for r in groups.get(label, [])]
    roles, own_sessions = groups.get(ROLE, []), groups.get(SESSION, [])
    instances = groups.get(INSTANCE, [])

    # step 1: the sessions around each entity
    started = neighbours(store, graph, starters, STARTED_SESSION, Direction.OUT, span=span)
    role_sessions = neighbours(store, graph, roles, ASSUMED_ROLE, Direction.IN, span=span)
    instance_sessions = neighbours(store, graph, instances, RUNS_SESSION, Direction.OUT, span=span)
    launched = neighbours(store, graph, instances, LAUNCHED, Direction.IN)
    chain_from = [*own_sessions, *(n.ref for rows in role_sessions.values() for n in rows)]
    chained = neighbours(store, graph, chain_from, CHAINED_TO, Direction.OUT, span=span)
    ran_on = neighbours(store, graph, own_sessions, RUNS_SESSION, Direction.IN)

    # step 2: who started the sessions of roles and the profiled sessions
    asked = [*own_sessions, *(n.ref for rows in role_sessions.values() for n in rows)]
    starts = neighbours(store, graph, asked, STARTED_SESSION, Direction.IN)
    chain_starts = neighbours(store, graph, asked, CHAINED_TO, Direction.IN)

    # step 3: the role of every session met so far
    sessions = {
        n.ref
        for found in (started, instance_sessions, chained)
        for rows in found.values()
        for n in rows
    } | set(own_sessions)
    role_of = neighbours(store, graph, sessions, ASSUMED_ROLE, Direction.OUT)

    def roles_of(rows: list[Neighbour]) -> list[Interaction]:
        return _merge((r, n.ref) for n in rows for r in role_of.get(n.ref, []))

    def starters_of(session: VertexRef) -> list[Neighbour]:
        return [*starts.get(session, []), *chain_starts.get(session, [])]

    out: dict[VertexRef, ResourceInteraction] = {}
    for ref in starters:
        rows = started.get(ref, [])
        out[ref] = ResourceInteraction(
            scope, sessions_started=_merge((n, None) for n in rows), roles_assumed=roles_of(rows)
        )
    for ref in roles:
        rows = role_sessions.get(ref, [])
        onward = [c for n in rows for c in chained.get(n.ref, [])]
        out[ref] = ResourceInteraction(
            scope,
            sessions=_merge((n, None) for n in rows),
            assumed_by=_merge((s, n.ref) for n in rows for s in starters_of(n.ref)),
            sessions_started=_merge((c, None) for c in onward),
            roles_assumed=roles_of(onward),
        )
    for ref in own_sessions:
        rows = chained.get(ref, [])
        mine = role_of.get(ref, [])
        host = ran_on.get(ref, [])
        out[ref] = ResourceInteraction(
            scope,
            role=_one(mine[0]) if mine else None,
            instance=_one(host[0]) if host else None,
            started_by=_merge((s, None) for s in starters_of(ref)),
            sessions_started=_merge((n, None) for n in rows),
            roles_assumed=roles_of(rows),
        )
    for ref in instances:
        rows = instance_sessions.get(ref, [])
        out[ref] = ResourceInteraction(
            scope,
            sessions=_merge((n, None) for n in rows),
            roles_assumed=roles_of(rows),
            launched_by=_merge((n, None) for n in launched.get(ref, [])),
        )
    found = vertices(store, graph, _refs(out.values()))
    for panel in out.values():
        panel.vertices = found
    return out


def _refs(panels: Iterable[ResourceInteraction]) -> list[VertexRef]:
    out: list[VertexRef] = []
    for p in panels:
        out.extend(i.ref for i in (p.role, p.instance) if i is not None)
        for rows in (p.started_by, p.sessions, p.assumed_by, p.sessions_started,
                     p.roles_assumed, p.launched_by):  # fmt: skip
            out.extend(i.ref for i in rows)
    return out
