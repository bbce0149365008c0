"""Finding groups in the store: read findings and groups, regroup, write what changed.

A group is a FindingGroup vertex (key: group id) with its summary as properties and an IN_GROUP
edge from each member finding. Memberships only grow and groups are never deleted (an INACTIVE
parent keeps its findings and points at its child), so writing a regrouping is: upsert the changed
group vertices, add the IN_GROUP edges that are new. Everything goes through the store contract,
so it runs unchanged on SQLite and JanusGraph.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from baselines.finding_groups import (
    ACTIVE,
    FindingFacts,
    Group,
    GroupingConfig,
    GroupingResult,
    update_groups,
)
from graph.batch import DeltaBuffer
from graph.model import FINDING, FINDING_GROUP, HOUR, IN_GROUP, INVOLVES, VertexRef
from graph.store import Direction, GraphStore, Vertex

PAGE = 1000


def _all(store: GraphStore, graph: str, label: str) -> Iterator[Vertex]:
    after: str | None = None
    while True:
        page = store.search(graph, label, "*", limit=PAGE, after=after)
        yield from page.vertices
        if page.next_after is None:
            return
        after = page.next_after


def read_findings(store: GraphStore, graph: str) -> list[FindingFacts]:
    vertices = list(_all(store, graph, FINDING))
    involved = store.neighbours(graph, [v.ref for v in vertices], INVOLVES, direction=Direction.OUT)
    out = []
    for v in vertices:
        severity = v.props.get("severity")
        account = v.props.get("account")
        out.append(
            FindingFacts(
                id=v.key,
                type=str(v.props.get("type") or ""),
                severity=float(severity) if isinstance(severity, int | float) else 0.0,
                first=v.first,
                last=v.last,
                entities=frozenset(n.ref for n in involved.get(v.ref, ())),
                account=str(account) if account else None,
            )
        )
    return out


def read_groups(store: GraphStore, graph: str) -> list[Group]:
    vertices = list(_all(store, graph, FINDING_GROUP))
    members = store.neighbours(graph, [v.ref for v in vertices], IN_GROUP, direction=Direction.IN)
    groups = []
    for v in vertices:
        p = v.props
        groups.append(
            Group(
                id=v.key,
                findings=frozenset(n.ref.key for n in members.get(v.ref, ())),
                status=str(p.get("status") or ACTIVE),
                parents=tuple(json.loads(str(p.get("parents") or "[]"))),
                child=str(p["child"]) if p.get("child") else None,
                created=int(p.get("created") or v.first),
                severity=float(p.get("severity") or 0.0),
                severity_label=str(p.get("severity_label") or "Informational"),
                title=str(p.get("title") or ""),
                tactics=tuple(json.loads(str(p.get("tactics") or "[]"))),
                first=v.first,
                last=v.last,
                accounts=tuple(json.loads(str(p.get("accounts") or "[]"))),
            )
        )
    return groups


def write_groups(
    store: GraphStore,
    graph: str,
    result: GroupingResult,
    before: dict[str, Group],
    findings: dict[str, FindingFacts],
) -> int:
    """Upsert the changed groups and their new memberships; returns the number of groups written."""
    buf = DeltaBuffer()
    by_id = result.by_id()
    for gid in result.changed:
        g = by_id[gid]
        ref = VertexRef(FINDING_GROUP, g.id)
        first, last = (g.first, g.last) if g.last else (g.created, g.created)
        buf.vertex(
            ref,
            first,
            last,
            {
                "title": g.title,
                "severity": g.severity,
                "severity_label": g.severity_label,
                "tactics": json.dumps(list(g.tactics)),
                "status": g.status,
                "parents": json.dumps(list(g.parents)),
                "child": g.child,
                "created": g.created,
                "findings": len(g.findings),
                "accounts": json.dumps(list(g.accounts)),
            },
        )
        old = before.get(gid)
        for fid in sorted(g.findings - (old.findings if old else frozenset())):
            f = findings.get(fid)
            if f is None:
                continue
            fref = VertexRef(FINDING, fid)
            buf.vertex(fref, f.first, f.last)  # already stored: its span does not change
            joined = max(f.last, g.created) // HOUR * HOUR
            buf.count(IN_GROUP, fref, ref, "", joined, joined, (1,))
    if len(buf):
        store.write(buf.take(graph, []))
    return len(result.changed)


def regroup(
    store: GraphStore, graph: str, *, now: int | None = None, config: GroupingConfig | None = None
) -> GroupingResult:
    """Fold every finding of `graph` into its finding groups and store the changes.

    `now` stamps new groups' `created`; it defaults to the newest finding's last observed time,
    data time rather than wall-clock time, so that loading the same inputs into any backend gives
    the same graph.
    """
    findings = read_findings(store, graph)
    if now is None:
        now = max((f.last for f in findings), default=0)
    existing = read_groups(store, graph)
    result = update_groups(graph, findings, existing, now=now, config=config)
    write_groups(store, graph, result, {g.id: g for g in existing}, {f.id: f for f in findings})
    return result
