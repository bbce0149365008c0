"""Membership records and retention of the embedded store (graph.membership, store contract)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from graph import sqlite_days
from graph.membership import (
    DAY,
    Expired,
    Member,
    OrgAdmin,
    PackageState,
    VolumeDelta,
    VolumeUsage,
    day_of,
    packages_from_json,
    packages_to_json,
)
from graph.model import HOUR
from graph.sqlite_schema import edges_of_graph
from graph.store import GraphInfo, GraphNotFound

_CHUNK = 400
_MEMBER_COLUMNS = (
    "g.arn, m.account, m.email, m.status, m.invitation_type, m.invited_at, m.updated_at,"
    " m.disabled_reason, m.packages"
)


class SqliteMembership:
    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _graph_id(self, arn: str) -> int:
        raise NotImplementedError

    def list_graphs(self) -> list[GraphInfo]:
        raise NotImplementedError

    def _drop_caches(self) -> None:
        raise NotImplementedError

    # -- graph properties --------------------------------------------------------------------
    def update_graph(self, arn: str, props: Mapping[str, Any]) -> GraphInfo:
        con = self._conn()
        cur = con.execute(
            "UPDATE graphs SET props=? WHERE arn=?", (json.dumps(dict(props), sort_keys=True), arn)
        )
        if cur.rowcount == 0:
            raise GraphNotFound(f"no graph {arn}")
        return next(g for g in self.list_graphs() if g.arn == arn)

    # -- members -----------------------------------------------------------------------------
    def put_members(self, graph: str, members: Sequence[Member]) -> None:
        gid = self._graph_id(graph)
        for m in members:
            if m.graph != graph:
                raise ValueError(f"member {m.account_id} belongs to {m.graph}, not {graph}")
        self._conn().executemany(
            "INSERT OR REPLACE INTO members(graph, account, email, status, invitation_type,"
            " invited_at, updated_at, disabled_reason, packages)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    gid,
                    m.account_id,
                    m.email,
                    m.status,
                    m.invitation_type,
                    m.invited_at,
                    m.updated_at,
                    m.disabled_reason,
                    packages_to_json(m.packages),
                )
                for m in members
            ],
        )

    def members(self, graph: str, accounts: Sequence[str] | None = None) -> list[Member]:
        gid = self._graph_id(graph)
        con = self._conn()
        base = f"SELECT {_MEMBER_COLUMNS} FROM members m JOIN graphs g ON g.id = m.graph"
        if accounts is None:
            rows = con.execute(base + " WHERE m.graph=? ORDER BY m.account", (gid,)).fetchall()
        else:
            rows = []
            unique = list(dict.fromkeys(accounts))
            for i in range(0, len(unique), _CHUNK):
                chunk = unique[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows.extend(
                    con.execute(
                        base + f" WHERE m.graph=? AND m.account IN ({marks})", (gid, *chunk)
                    )
                )
            rows.sort(key=lambda r: r[1])
        return [_member(r) for r in rows]

    def memberships(self, account: str) -> list[Member]:
        rows = self._conn().execute(
            f"SELECT {_MEMBER_COLUMNS} FROM members m JOIN graphs g ON g.id = m.graph"
            " WHERE m.account=? ORDER BY g.arn",
            (account,),
        )
        return [_member(r) for r in rows]

    def delete_members(self, graph: str, accounts: Sequence[str]) -> None:
        gid = self._graph_id(graph)
        self._conn().executemany(
            "DELETE FROM members WHERE graph=? AND account=?", [(gid, a) for a in accounts]
        )

    # -- volume ------------------------------------------------------------------------------
    @staticmethod
    def _add_volume(con: sqlite3.Connection, gid: int, rows: Sequence[VolumeDelta]) -> None:
        """Inside the caller's write transaction."""
        con.executemany(
            "INSERT INTO volume(graph, account, package, day, ingested, skipped, updated)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(graph, account, package, day) DO UPDATE"
            " SET ingested = ingested + excluded.ingested, skipped = skipped + excluded.skipped,"
            " updated = max(updated, excluded.updated)",
            [(gid, v.account, v.package, day_of(v.day), v.ingested, v.skipped, v.at) for v in rows],
        )

    def volume(
        self, graph: str, *, since: int = 0, accounts: Sequence[str] | None = None
    ) -> list[VolumeUsage]:
        gid = self._graph_id(graph)
        rows = self._conn().execute(
            "SELECT account, package, day, ingested, skipped, updated FROM volume"
            " WHERE graph=? AND day >= ? ORDER BY account, package, day",
            (gid, since),
        )
        wanted = set(accounts) if accounts is not None else None
        return [VolumeUsage(*r) for r in rows if wanted is None or r[0] in wanted]

    # -- organization ------------------------------------------------------------------------
    def put_org_admin(self, admin: OrgAdmin) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO org_admins(region, account, graph, delegated_at)"
            " VALUES (?, ?, ?, ?)",
            (admin.region, admin.account_id, admin.graph, admin.delegated_at),
        )

    def org_admins(self) -> list[OrgAdmin]:
        rows = self._conn().execute(
            "SELECT region, account, graph, delegated_at FROM org_admins ORDER BY region"
        )
        return [OrgAdmin(*r) for r in rows]

    def delete_org_admin(self, region: str) -> None:
        self._conn().execute("DELETE FROM org_admins WHERE region=?", (region,))

    # -- retention ---------------------------------------------------------------------------
    def newest(self, graph: str) -> int | None:
        gid = self._graph_id(graph)
        row = (
            self._conn().execute("SELECT max(last) FROM vertices WHERE graph=?", (gid,)).fetchone()
        )
        return None if row[0] is None else int(row[0])

    def expire(self, graph: str, before: int) -> Expired:
        if before % HOUR:
            raise ValueError(f"retention cutoff {before} is not an hour start")
        gid = self._graph_id(graph)
        con = self._conn()
        con.execute("BEGIN IMMEDIATE")
        try:
            # only edges first observed before the cutoff can hold hours before it
            hours = con.execute(
                "DELETE FROM edge_hours WHERE edge IN"
                f" (SELECT id FROM edges WHERE {edges_of_graph()} AND first < ?) AND hour < ?",
                (gid, before, before),
            ).rowcount
            # day rows of days that began before the cutoff go; the cutoff's own day is
            # recomputed from the hours it keeps
            con.execute(
                "DELETE FROM day_series WHERE src IN (SELECT id FROM vertices WHERE graph=?)"
                " AND day < ?",
                (gid, before),
            )
            if before % DAY:
                cut = day_of(before)
                sqlite_days.rebuild(
                    con,
                    f"{edges_of_graph('e.src')} AND h.hour >= ? AND h.hour < ?",
                    (gid, cut, cut + DAY),
                )
            edges = con.execute(
                f"DELETE FROM edges WHERE {edges_of_graph()} AND first < ?"
                " AND NOT EXISTS (SELECT 1 FROM edge_hours h WHERE h.edge = edges.id)",
                (gid, before),
            ).rowcount
            gone = [
                r[0]
                for r in con.execute(
                    "SELECT id FROM vertices v WHERE graph=? AND last < ?"
                    " AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.src = v.id)"
                    " AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.dst = v.id)",
                    (gid, before),
                )
            ]
            for i in range(0, len(gone), _CHUNK):
                chunk = gone[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                con.execute(
                    f"DELETE FROM terms WHERE graph=? AND vertex IN ({marks})", (gid, *chunk)
                )
                con.execute(f"DELETE FROM vertices WHERE id IN ({marks})", chunk)
            volume = con.execute(
                "DELETE FROM volume WHERE graph=? AND day < ?", (gid, day_of(before))
            ).rowcount
            # vertex ids cached by writers in other processes may be gone: make them re-read
            con.execute("UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k='generation'")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            self._drop_caches()
        return Expired(hours, edges, len(gone), volume)


@functools.lru_cache(maxsize=4096)
def _packages(text: str) -> Mapping[str, PackageState]:
    # members of a graph mostly share the same package states: parse each text once (read-only)
    return MappingProxyType(packages_from_json(text))


def _member(r: Sequence[Any]) -> Member:
    return Member(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], _packages(r[8]))
