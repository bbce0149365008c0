"""Finding groups: findings linked by shared entities close in time, with merge lineage.

Two findings are linked when they involve the same linking entity (a role session, an IP address,
an instance, a user, a role, an access key ...) and their observed intervals lie within `window`
seconds of each other. A group is a connected component of that relation with at least
`min_findings` findings.

Groups are updated, never rebuilt: the facts of a finding only grow (its interval widens, it
involves more entities), so components only ever merge. A component that touches one active group
extends it in place; a component that joins several active groups becomes a new **child** group
and the parents turn INACTIVE, pointing at their child — Detective's lineage. Group ids are a hash
of the graph and the member findings at creation, so re-running a grouping is idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from baselines.tactics import group_title, severity_label, tactic_chain
from graph.model import (
    ACCOUNT,
    BUCKET,
    ENI,
    FEDERATED,
    INSTANCE,
    IP,
    ROLE,
    SESSION,
    USER,
    VertexRef,
)

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"

DEFAULT_LINK_LABELS = frozenset({SESSION, IP, INSTANCE, USER, ROLE, FEDERATED, "AccessKey"})

# Detective's entity categories on a group profile.
CATEGORIES: dict[str, str] = {
    USER: "Identity",
    ROLE: "Identity",
    SESSION: "Identity",
    FEDERATED: "Identity",
    ACCOUNT: "Identity",
    "AccessKey": "Identity",
    IP: "Network",
    ENI: "Network",
    BUCKET: "Storage",
    INSTANCE: "Compute",
    "EksCluster": "Compute",
    "KubernetesPod": "Compute",
}


@dataclass(frozen=True, slots=True)
class GroupingConfig:
    window: int = 48 * 3600
    min_findings: int = 2
    link_labels: frozenset[str] = DEFAULT_LINK_LABELS

    def __post_init__(self) -> None:
        if self.window <= 0:
            raise ValueError(f"window must be positive seconds, got {self.window}")
        if self.min_findings < 1:
            raise ValueError(f"min_findings must be at least 1, got {self.min_findings}")
        if not self.link_labels:
            raise ValueError("link_labels must name at least one entity label")


@dataclass(frozen=True, slots=True)
class FindingFacts:
    id: str
    type: str
    severity: float
    first: int
    last: int
    entities: frozenset[VertexRef]
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    findings: frozenset[str]
    status: str
    parents: tuple[str, ...] = ()
    child: str | None = None
    created: int = 0
    # derived from the member findings (empty for a group read back without them)
    severity: float = 0.0
    severity_label: str = "Informational"
    title: str = ""
    tactics: tuple[str, ...] = ()
    first: int = 0
    last: int = 0
    entities: frozenset[VertexRef] = field(default_factory=frozenset)
    accounts: tuple[str, ...] = ()

    def categories(self) -> dict[str, list[VertexRef]]:
        out: dict[str, list[VertexRef]] = {}
        for ref in sorted(self.entities):
            out.setdefault(CATEGORIES.get(ref.label, "Other"), []).append(ref)
        return out


@dataclass(frozen=True, slots=True)
class GroupingResult:
    groups: tuple[Group, ...]  # every group, active and inactive, by id
    changed: tuple[str, ...]  # ids of groups created or modified by this run

    @property
    def active(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.status == ACTIVE)

    def by_id(self) -> dict[str, Group]:
        return {g.id: g for g in self.groups}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = self.parent.setdefault(x, x)
        while root != self.parent[root]:
            root = self.parent[root]
        while x != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def components(findings: Iterable[FindingFacts], config: GroupingConfig) -> list[frozenset[str]]:
    """Connected components of the linked-findings relation (singletons included)."""
    uf = _UnionFind()
    by_entity: dict[VertexRef, list[FindingFacts]] = {}
    for f in findings:
        uf.find(f.id)
        for ref in f.entities:
            if ref.label in config.link_labels:
                by_entity.setdefault(ref, []).append(f)
    for members in by_entity.values():
        # sweep in start order; a finding links to the chain when it starts within `window` of
        # the latest end seen so far (intervals that overlap or nearly touch)
        members.sort(key=lambda f: (f.first, f.id))
        chain_end = members[0].last
        prev = members[0].id
        for f in members[1:]:
            if f.first - chain_end <= config.window:
                uf.union(prev, f.id)
            chain_end = max(chain_end, f.last)
            prev = f.id
    comps: dict[str, set[str]] = {}
    for fid in uf.parent:
        comps.setdefault(uf.find(fid), set()).add(fid)
    return sorted((frozenset(c) for c in comps.values()), key=lambda c: min(c))


def group_id(graph: str, findings: Iterable[str]) -> str:
    digest = hashlib.sha256("\n".join([graph, *sorted(findings)]).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def describe(group: Group, facts: Mapping[str, FindingFacts]) -> Group:
    """The group with its derived fields computed from its member findings."""
    members = [facts[f] for f in sorted(group.findings) if f in facts]
    if not members:
        return group
    severity = max(f.severity for f in members)
    types = [f.type for f in members]
    return Group(
        id=group.id,
        findings=group.findings,
        status=group.status,
        parents=group.parents,
        child=group.child,
        created=group.created,
        severity=severity,
        severity_label=severity_label(severity),
        title=group_title(types),
        tactics=tuple(tactic_chain(types)),
        first=min(f.first for f in members),
        last=max(f.last for f in members),
        entities=frozenset(ref for f in members for ref in f.entities),
        accounts=tuple(sorted({f.account for f in members if f.account})),
    )


def _summary(g: Group) -> tuple[object, ...]:
    # what is stored on a group's vertex (its entities are derived from its findings at read time)
    lineage = (g.findings, g.status, g.parents, g.child)
    return (*lineage, g.severity, g.title, g.tactics, g.first, g.last)


def update_groups(
    graph: str,
    findings: Iterable[FindingFacts],
    existing: Iterable[Group],
    *,
    now: int,
    config: GroupingConfig | None = None,
) -> GroupingResult:
    """Fold the current findings into the existing groups (see the module docstring)."""
    config = config or GroupingConfig()
    facts = {f.id: f for f in findings}
    groups = {g.id: g for g in existing}
    active_of: dict[str, str] = {}  # finding id -> the active group holding it
    for g in groups.values():
        if g.status == ACTIVE:
            for fid in g.findings:
                active_of[fid] = g.id
    changed: set[str] = set()
    for comp in components(facts.values(), config):
        touched = sorted({active_of[f] for f in comp if f in active_of})
        if not touched:
            if len(comp) < config.min_findings:
                continue
            new = Group(group_id(graph, comp), comp, ACTIVE, created=now)
        elif len(touched) == 1:
            old = groups[touched[0]]
            if comp <= old.findings:
                new = old
            else:
                new = Group(old.id, old.findings | comp, ACTIVE, old.parents, None, old.created)
        else:
            members = comp.union(*(groups[t].findings for t in touched))
            new = Group(group_id(graph, members), members, ACTIVE, tuple(touched), created=now)
            for t in touched:
                p = groups[t]
                groups[t] = Group(p.id, p.findings, INACTIVE, p.parents, new.id, p.created)
                changed.add(t)
        described = describe(new, facts)
        before = groups.get(new.id)
        if before is None or _summary(before) != _summary(described):
            changed.add(new.id)
        groups[new.id] = described
        for fid in new.findings:
            active_of[fid] = new.id
    final = tuple(describe(g, facts) if g.id in changed else g for _, g in sorted(groups.items()))
    return GroupingResult(final, tuple(sorted(changed)))
