"""Membership records and retention of the JanusGraph store (graph.membership, store contract).

Records are vertices with deterministic ids (like entities): `Member` per (graph, account),
`Volume` per (graph, account, package, day) and `OrgAdmin` per region. Each carries `graph`, so
that deleting a graph drops them with its entities, and a key of its own with a composite index
(`member_graph`, `member_account`, `volume_graph`, `org_kind`) for listing. JanusGraph stores no
nulls: an absent email or disabled reason is stored as "".

Retention walks the graph's vertices first observed before the cutoff (only they can hold older
edges), subtracts the expiring hourly counts from the all-time totals on the summary edges and
drops the hourly edges in one transaction per chunk, so an interrupted run never subtracts twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.traversal import Merge, P, T

from graph.janusgraph_schema import (
    COUNTERS,
    GRAPH_LABEL,
    HOURLY,
    MEMBER_LABEL,
    ORG_ADMIN_LABEL,
    VOLUME_LABEL,
    escape,
    vertex_id,
)
from graph.membership import (
    Expired,
    Member,
    OrgAdmin,
    VolumeDelta,
    VolumeUsage,
    day_of,
    packages_from_json,
    packages_to_json,
)
from graph.model import EDGE_TYPES, HOUR
from graph.store import GraphInfo

R = TypeVar("R")
CHUNK = 400
FRESH = "fresh"
ORG_KIND = "admin"


def _member_id(graph: str, account: str) -> str:
    return vertex_id(graph, MEMBER_LABEL, account)


def _org_id(region: str) -> str:
    return escape(f"orgadmin|{region}")


def volume_rows(graph: str, rows: Sequence[VolumeDelta]) -> list[dict[str, Any]]:
    out = []
    for v in rows:
        day = day_of(v.day)
        key = f"{v.account}|{v.package}|{day}"
        out.append(
            {
                "k": {T.id: vertex_id(graph, VOLUME_LABEL, key), T.label: VOLUME_LABEL},
                "c": {
                    "graph": graph,
                    "volume_graph": graph,
                    "account": v.account,
                    "package": v.package,
                    "day": day,
                    "ingested": v.ingested,
                    "skipped": v.skipped,
                    "updated": v.at,
                    FRESH: True,
                },
                "d": {"ingested": v.ingested, "skipped": v.skipped, "updated": v.at},
            }
        )
    return out


def write_volume(gtx: GraphTraversalSource, graph: str, rows: Sequence[VolumeDelta]) -> None:
    """Add volume rows inside the caller's write transaction."""
    if not rows:
        return

    def plus(name: str) -> Any:
        return __.union(__.values(name), __.select("x").select("d").select(name))

    update = (
        __.property("ingested", plus("ingested").sum_())
        .property("skipped", plus("skipped").sum_())
        .property("updated", plus("updated").max_())
    )
    data = volume_rows(graph, rows)
    for i in range(0, len(data), CHUNK):
        (
            gtx.inject(data[i : i + CHUNK])
            .unfold()
            .as_("x")
            .merge_v(__.select("k"))
            .option(Merge.on_create, __.select("c"))
            .option(Merge.on_match, __.constant({}))
            .choose(__.has(FRESH), __.properties(FRESH).drop(), update.clone())
            .iterate()
        )


class JanusGraphMembership:
    g: GraphTraversalSource
    uri: str

    def _call(self, fn: Callable[..., R], *args: Any) -> R:
        raise NotImplementedError

    def _check_graph(self, arn: str) -> None:
        raise NotImplementedError

    def list_graphs(self) -> list[GraphInfo]:
        raise NotImplementedError

    def _merge(self, rows: list[dict[str, Any]]) -> None:
        for i in range(0, len(rows), CHUNK):
            chunk = rows[i : i + CHUNK]
            self._call(
                lambda chunk: (
                    self.g.inject(chunk)
                    .unfold()
                    .merge_v(__.select("k"))
                    .option(Merge.on_create, __.select("c"))
                    .option(Merge.on_match, __.select("c"))
                    .iterate()
                ),
                chunk,
            )

    # -- graph properties --------------------------------------------------------------------
    def update_graph(self, arn: str, props: Mapping[str, Any]) -> GraphInfo:
        self._check_graph(arn)
        meta = json.dumps(dict(props), sort_keys=True)
        self._call(lambda: self.g.V(escape(f"graph|{arn}")).property("meta", meta).iterate())
        return next(g for g in self.list_graphs() if g.arn == arn)

    # -- members -----------------------------------------------------------------------------
    def put_members(self, graph: str, members: Sequence[Member]) -> None:
        self._check_graph(graph)
        rows = []
        for m in members:
            if m.graph != graph:
                raise ValueError(f"member {m.account_id} belongs to {m.graph}, not {graph}")
            props = {
                "graph": graph,
                "member_graph": graph,
                "member_account": m.account_id,
                "email": m.email or "",
                "status": m.status,
                "invitation_type": m.invitation_type,
                "invited_at": m.invited_at,
                "updated_at": m.updated_at,
                "disabled_reason": m.disabled_reason or "",
                "packages": packages_to_json(m.packages),
            }
            key = {T.id: _member_id(graph, m.account_id), T.label: MEMBER_LABEL}
            rows.append({"k": key, "c": props})
        self._merge(rows)

    def _member_maps(self, t: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._call(lambda: t.value_map().to_list())
        return [{k: v[0] for k, v in r.items()} for r in rows]

    def members(self, graph: str, accounts: Sequence[str] | None = None) -> list[Member]:
        self._check_graph(graph)
        if accounts is None:
            maps = self._member_maps(self.g.V().has("member_graph", graph))
        else:
            ids = [_member_id(graph, a) for a in dict.fromkeys(accounts)]
            maps = []
            for i in range(0, len(ids), CHUNK):
                maps.extend(self._member_maps(self.g.V(*ids[i : i + CHUNK])))
        return sorted((_member(p) for p in maps), key=lambda m: m.account_id)

    def memberships(self, account: str) -> list[Member]:
        maps = self._member_maps(self.g.V().has("member_account", account))
        return sorted((_member(p) for p in maps), key=lambda m: m.graph)

    def delete_members(self, graph: str, accounts: Sequence[str]) -> None:
        self._check_graph(graph)
        ids = [_member_id(graph, a) for a in dict.fromkeys(accounts)]
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            self._call(lambda chunk: self.g.V(*chunk).drop().iterate(), chunk)

    # -- volume ------------------------------------------------------------------------------
    def volume(
        self, graph: str, *, since: int = 0, accounts: Sequence[str] | None = None
    ) -> list[VolumeUsage]:
        self._check_graph(graph)
        maps = self._member_maps(self.g.V().has("volume_graph", graph).has("day", P.gte(since)))
        wanted = set(accounts) if accounts is not None else None
        rows = [
            VolumeUsage(
                p["account"], p["package"], p["day"], p["ingested"], p["skipped"], p["updated"]
            )
            for p in maps
            if wanted is None or p["account"] in wanted
        ]
        return sorted(rows, key=lambda v: (v.account, v.package, v.day))

    # -- organization ------------------------------------------------------------------------
    def put_org_admin(self, admin: OrgAdmin) -> None:
        props = {
            "graph": admin.graph,
            "org_kind": ORG_KIND,
            "region": admin.region,
            "account": admin.account_id,
            "delegated_at": admin.delegated_at,
        }
        self._merge([{"k": {T.id: _org_id(admin.region), T.label: ORG_ADMIN_LABEL}, "c": props}])

    def org_admins(self) -> list[OrgAdmin]:
        maps = self._member_maps(self.g.V().has("org_kind", ORG_KIND))
        admins = [OrgAdmin(p["region"], p["account"], p["graph"], p["delegated_at"]) for p in maps]
        return sorted(admins, key=lambda a: a.region)

    def delete_org_admin(self, region: str) -> None:
        self._call(lambda: self.g.V(_org_id(region)).drop().iterate())

    # -- retention ---------------------------------------------------------------------------
    def newest(self, graph: str) -> int | None:
        self._check_graph(graph)
        found: list[int] = self._call(
            lambda: self.g.V().has("graph", graph).values("last").max_().to_list()
        )
        return int(found[0]) if found else None

    def expire(self, graph: str, before: int) -> Expired:
        if before % HOUR:
            raise ValueError(f"retention cutoff {before} is not an hour start")
        self._check_graph(graph)
        ids: list[str] = self._call(
            lambda: (
                self.g.V()
                .has("graph", graph)
                .has("first", P.lt(before))
                .not_(__.has_label(GRAPH_LABEL))
                .id_()
                .to_list()
            )
        )
        hourly = [label + HOURLY for label in EDGE_TYPES]
        summary = list(EDGE_TYPES)
        total = Expired()
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            hours = self._call(self._expire_hours, chunk, hourly, before)
            edges = self._call(
                lambda chunk: (
                    self.g.V(*chunk)
                    .out_e(*summary)
                    .has("last", P.lt(before))
                    .side_effect(__.drop())
                    .count()
                    .next()
                ),
                chunk,
            )
            total += Expired(hours, edges)
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            vertices = self._call(
                lambda chunk: (
                    self.g.V(*chunk)
                    .has("last", P.lt(before))
                    .not_(__.both_e())
                    .side_effect(__.drop())
                    .count()
                    .next()
                ),
                chunk,
            )
            total += Expired(vertices=vertices)
        volume = self._call(
            lambda: (
                self.g.V()
                .has("volume_graph", graph)
                .has("day", P.lt(day_of(before)))
                .side_effect(__.drop())
                .count()
                .next()
            )
        )
        return total + Expired(volume=volume)

    def _expire_hours(self, chunk: list[str], hourly: list[str], before: int) -> int:
        """Subtract a chunk's expiring hourly counts from their summary edges and drop them, in
        one transaction."""
        old = (
            self.g.V(*chunk)
            .out_e(*hourly)
            .has("hour", P.lt(before))
            .project("s", "l", "d", "q", *COUNTERS)
            .by(__.out_v().id_())
            .by(__.label())
            .by(__.in_v().id_())
            .by("q")
        )
        for c in COUNTERS:
            old = old.by(c)
        rows: list[dict[str, Any]] = old.to_list()
        if not rows:
            return 0
        sums: dict[tuple[str, str, str, str], list[int]] = {}
        for r in rows:
            acc = sums.setdefault(
                (r["s"], r["l"].removesuffix(HOURLY), r["d"], r["q"]), [0, 0, 0, 0]
            )
            for n, c in enumerate(COUNTERS):
                acc[n] += r[c]
        tx = self.g.tx()
        gtx = tx.begin()
        try:
            for (src, label, dst, q), minus in sums.items():
                t = gtx.V(src).out_e(label).has("q", q).where(__.in_v().has_id(dst))
                for c, m in zip(COUNTERS, minus, strict=True):
                    if m:
                        t = t.property(c, __.union(__.values(c), __.constant(-m)).sum_())
                t.iterate()
            gtx.V(*chunk).out_e(*hourly).has("hour", P.lt(before)).drop().iterate()
            tx.commit()
        except BaseException:
            if tx.is_open():
                tx.rollback()
            raise
        return len(rows)


def _member(p: Mapping[str, Any]) -> Member:
    return Member(
        p["member_graph"],
        p["member_account"],
        p["email"] or None,
        p["status"],
        p["invitation_type"],
        p["invited_at"],
        p["updated_at"],
        p["disabled_reason"] or None,
        packages_from_json(p["packages"]),
    )
