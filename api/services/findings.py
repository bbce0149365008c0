"""Findings and finding groups around entities, and the entities around findings.

A finding is involved with an entity through an INVOLVES edge (qualified by the entity's role:
GuardDuty's 'target' or 'actor', or 'remote' for remote addresses). An entity's involved findings
in a scope are those whose activity window (first to last observed) overlaps the scope. Archived
findings are hidden unless asked for: Detective never ingests them. An entity's finding groups
are the groups of its involved findings; groups merged into a child group (INACTIVE) are hidden
unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from api.services.batching import neighbours
from api.services.entities import is_archived
from api.services.scope import Scope
from graph.model import FINDING, FINDING_GROUP, IN_GROUP, INVOLVES, VertexRef
from graph.store import Direction, GraphReads, Vertex

ACTIVE = "ACTIVE"
FINDINGS = frozenset({FINDING})
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Involvement:
    vertex: Vertex  # the finding (or, seen from a finding, the entity)
    role: str  # the INVOLVES qualifier


def is_active(group: Vertex) -> bool:
    return (group.props.get("status") or ACTIVE) == ACTIVE


def involved_findings(
    *,
    store: GraphReads,
    graph: str,
    refs: Sequence[VertexRef],
    scope: Scope | None,
    include_archived: bool = False,
) -> dict[VertexRef, list[Involvement]]:
    """Each entity's findings overlapping the scope (all of them without one), newest first."""
    edges = neighbours(store, graph, refs, INVOLVES, Direction.IN, other_labels=FINDINGS)
    wanted = sorted({n.ref for rows in edges.values() for n in rows})
    found = store.vertices(graph, wanted) if wanted else {}
    out: dict[VertexRef, list[Involvement]] = {}
    for ref, rows in edges.items():
        seen: dict[VertexRef, Involvement] = {}
        for n in rows:
            v = found.get(n.ref)
            if v is None or n.ref in seen or (is_archived(v) and not include_archived):
                continue
            if scope is None or scope.overlaps(v.first, v.last):
                seen[n.ref] = Involvement(v, n.qualifier)
        out[ref] = sorted(seen.values(), key=lambda i: (-i.vertex.last, i.vertex.key))
    return out


def finding_groups_of(
    *,
    store: GraphReads,
    graph: str,
    refs: Sequence[VertexRef],
    scope: Scope | None,
    include_inactive: bool = False,
) -> dict[VertexRef, list[Vertex]]:
    """The groups of each entity's findings (of each finding, for findings) that overlap the
    scope, most severe first."""
    findings_of = {r: [r] for r in refs if r.label == FINDING}
    others = [r for r in refs if r.label != FINDING]
    edges = neighbours(store, graph, others, INVOLVES, Direction.IN, other_labels=FINDINGS)
    findings_of.update({r: [n.ref for n in rows] for r, rows in edges.items()})
    memberships = neighbours(
        store, graph, {f for fs in findings_of.values() for f in fs}, IN_GROUP, Direction.OUT
    )
    wanted = sorted({n.ref for rows in memberships.values() for n in rows})
    groups = store.vertices(graph, wanted) if wanted else {}
    out: dict[VertexRef, list[Vertex]] = {}
    for ref, findings in findings_of.items():
        mine: dict[VertexRef, Vertex] = {}
        for f in findings:
            for n in memberships.get(f, []):
                g = groups.get(n.ref)
                if g is None or (not include_inactive and not is_active(g)):
                    continue
                if scope is None or scope.overlaps(g.first, g.last):
                    mine[g.ref] = g
        out[ref] = sorted(mine.values(), key=_severity_order)
    return out


def _severity_order(g: Vertex) -> tuple[float, int, str]:
    severity = g.props.get("severity")
    return (-float(severity) if isinstance(severity, int | float) else 0.0, -g.last, g.key)


def involved_entities(
    *, store: GraphReads, graph: str, refs: Sequence[VertexRef]
) -> dict[VertexRef, list[Involvement]]:
    """The entities each finding involves, with their roles."""
    edges = neighbours(store, graph, refs, INVOLVES, Direction.OUT)
    wanted = sorted({n.ref for rows in edges.values() for n in rows})
    found = store.vertices(graph, wanted) if wanted else {}
    return {
        ref: [Involvement(found[n.ref], n.qualifier) for n in rows if n.ref in found]
        for ref, rows in edges.items()
    }


def group_findings(
    *, store: GraphReads, graph: str, refs: Sequence[VertexRef]
) -> dict[VertexRef, list[Vertex]]:
    """The member findings of each finding group, most severe first."""
    edges = neighbours(store, graph, refs, IN_GROUP, Direction.IN)
    wanted = sorted({n.ref for rows in edges.values() for n in rows})
    found = store.vertices(graph, wanted) if wanted else {}
    return {
        ref: sorted((found[n.ref] for n in rows if n.ref in found), key=_severity_order)
        for ref, rows in edges.items()
    }


def _all_groups(store: GraphReads, graph: str) -> Iterator[Vertex]:
    after: str | None = None
    while True:
        page = store.search(graph, FINDING_GROUP, "*", limit=_PAGE, after=after)
        yield from page.vertices
        if page.next_after is None:
            return
        after = page.next_after


def list_groups(
    *, store: GraphReads, graph: str, scope: Scope | None, include_inactive: bool = False
) -> list[Vertex]:
    """The graph's finding groups overlapping the scope (all without one), most severe first."""
    return sorted(
        (
            g
            for g in _all_groups(store, graph)
            if (include_inactive or is_active(g))
            and (scope is None or scope.overlaps(g.first, g.last))
        ),
        key=_severity_order,
    )
