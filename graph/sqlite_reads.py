"""Reads of the embedded store: lookups, search, neighbours, hourly series and export."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import numpy as np

from graph import sqlite_days
from graph.export import edge_record, vertex_record
from graph.model import COUNTER_MAX, EDGE_TYPES, HOUR, VertexRef
from graph.store import (
    Direction,
    HourCounts,
    Neighbour,
    SearchPage,
    Vertex,
    hour_columns,
    in_range,
)

_CHUNK = 400


def glob_pattern(query: str) -> str:
    """A GLOB pattern matching `query` as a prefix, with `*` as the only wildcard."""
    escaped = "".join(f"[{c}]" if c in "[]?" else c for c in query)
    return escaped if escaped.endswith("*") else escaped + "*"


def _summed(column: np.ndarray, values: str, width: int) -> HourCounts:
    """`values` (a group_concat list) added up per column index, in int64 like the stored
    counters, saturating at its maximum as the writer does (float sums would round counts past
    2^53, and int64 sums of saturated counters would wrap)."""
    parsed = np.fromstring(values, dtype=np.int64, sep=",")
    out = np.zeros(width, dtype=np.int64)
    if parsed.size and int(parsed.max()) > COUNTER_MAX // parsed.size:
        exact = [0] * width
        for c, v in zip(column.tolist(), parsed.tolist(), strict=True):
            exact[c] += v
        out[:] = [min(x, COUNTER_MAX) for x in exact]
    else:
        np.add.at(out, column, parsed)
    return out


def _one_step(con: sqlite3.Connection, inner: str, width: int, args: Sequence[Any]) -> list[Any]:
    """The rows of `inner` (columns named c0, c1, ...) as one JSON text, so that SQLite runs the
    read in one step with the GIL released throughout. Fetched row by row, the thread takes the
    GIL back after every row, and while other request threads run each retake can wait for a
    switch interval: an account's 494 CALLED edges took 1 ms alone and 18 ms in a profile."""
    columns = ", ".join(f"c{i}" for i in range(width))
    row = con.execute(
        f"SELECT json_group_array(json_array({columns})) FROM ({inner})", args
    ).fetchone()
    return list(msgspec.json.decode(row[0]))


class SaturatingSum:
    """SQL `ssum(x)`: sum() that saturates at COUNTER_MAX as the writer does, where SQLite's
    sum() fails with "integer overflow" (`neighbours` falls back on it only then: it runs in
    Python, once per row)."""

    def __init__(self) -> None:
        self.total: int | None = None

    def step(self, value: int | None) -> None:
        if value is not None:
            self.total = value if self.total is None else self.total + value

    def finalize(self) -> int | None:
        return None if self.total is None else min(self.total, COUNTER_MAX)


def _other_end(row: Sequence[Any]) -> tuple[str, str, str]:
    # SQLite's BINARY order: UTF-8 bytes sort like the code points Python compares
    return (row[1], row[2], row[3])


class SqliteReads:
    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _graph_id(self, arn: str) -> int:
        raise NotImplementedError

    def _ids(self, gid: int, refs: Sequence[VertexRef]) -> dict[int, VertexRef]:
        con = self._conn()
        by_label: dict[str, list[str]] = {}
        for ref in dict.fromkeys(refs):
            by_label.setdefault(ref.label, []).append(ref.key)
        out: dict[int, VertexRef] = {}
        for label, keys in by_label.items():
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for vid, key in con.execute(
                    f"SELECT id, key FROM vertices WHERE graph=? AND label=? AND key IN ({marks})",
                    (gid, label, *chunk),
                ):
                    out[vid] = VertexRef(label, key)
        return out

    def _refs(self, ids: Sequence[int]) -> dict[int, VertexRef]:
        con = self._conn()
        out: dict[int, VertexRef] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for vid, label, key in con.execute(
                f"SELECT id, label, key FROM vertices WHERE id IN ({marks})", chunk
            ):
                out[vid] = VertexRef(label, key)
        return out

    def vertices(self, graph: str, refs: Sequence[VertexRef]) -> dict[VertexRef, Vertex]:
        gid = self._graph_id(graph)
        con = self._conn()
        ids = self._ids(gid, refs)
        out: dict[VertexRef, Vertex] = {}
        id_list = list(ids)
        for i in range(0, len(id_list), _CHUNK):
            chunk = id_list[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for label, key, first, last, props in con.execute(
                f"SELECT label, key, first, last, props FROM vertices WHERE id IN ({marks})", chunk
            ):
                out[VertexRef(label, key)] = Vertex(label, key, first, last, json.loads(props))
        return out

    def search(
        self, graph: str, label: str, query: str, *, limit: int, after: str | None = None
    ) -> SearchPage:
        if limit < 1:
            raise ValueError("limit must be positive")
        gid = self._graph_id(graph)
        rows = (
            self._conn()
            .execute(
                "SELECT v.label, v.key, v.first, v.last, v.props FROM vertices v WHERE v.id IN"
                " (SELECT vertex FROM terms WHERE graph=? AND label=? AND term GLOB ?)"
                " AND v.key > ? ORDER BY v.key LIMIT ?",
                (gid, label, glob_pattern(query), after or "", limit + 1),
            )
            .fetchall()
        )
        found = [Vertex(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows[:limit]]
        return SearchPage(found, found[-1].key if len(rows) > limit else None)

    def _edge_filter(
        self,
        gid: int,
        refs: Sequence[VertexRef],
        edge_label: str,
        direction: Direction,
        other_labels: frozenset[str] | None,
        others: Sequence[VertexRef] | None,
    ) -> tuple[dict[int, VertexRef], str, str, list[Any]]:
        """The ids of `refs`, the edge columns (near, far) and a WHERE clause with its args."""
        ids = self._ids(gid, refs)
        near, far = ("src", "dst") if direction is Direction.OUT else ("dst", "src")
        marks = ",".join("?" * len(ids))
        where = f"e.{near} IN ({marks}) AND e.label = ?"
        args: list[Any] = [*ids, edge_label]
        if other_labels is not None:
            where += f" AND o.label IN ({','.join('?' * len(other_labels))})"
            args.extend(sorted(other_labels))
        if others is not None:
            other_ids = self._ids(gid, others)
            where += f" AND e.{far} IN ({','.join('?' * len(other_ids))})"
            args.extend(other_ids)
        return ids, near, far, [where, *args]

    def neighbours(
        self,
        graph: str,
        refs: Sequence[VertexRef],
        edge_label: str,
        *,
        direction: Direction,
        start: int | None = None,
        end: int | None = None,
        other_labels: frozenset[str] | None = None,
        others: Sequence[VertexRef] | None = None,
        counts: bool = True,
    ) -> dict[VertexRef, list[Neighbour]]:
        in_range(start, end)
        n = len(EDGE_TYPES[edge_label].counters)
        gid = self._graph_id(graph)
        ids, near, far, (where, *args) = self._edge_filter(
            gid, refs, edge_label, direction, other_labels, others
        )
        out: dict[VertexRef, list[Neighbour]] = {ref: [] for ref in ids.values()}
        if not ids:
            return out
        if not counts:
            # edges only: an edge with counts in the range is found by one index seek into
            # edge_hours, instead of summing all its hours
            if start is not None:
                where += (
                    " AND EXISTS (SELECT 1 FROM edge_hours h WHERE h.edge = e.id"
                    " AND h.hour >= ? AND h.hour < ?)"
                )
                args = [*args, start, end]
            found = _one_step(
                self._conn(),
                f"SELECT e.{near} AS c0, o.label AS c1, o.key AS c2, e.qualifier AS c3,"
                f" e.first AS c4, e.last AS c5 FROM edges e JOIN vertices o ON o.id = e.{far}"
                f" WHERE {where}",
                6,
                args,
            )
            for r in sorted(found, key=_other_end):
                out[ids[r[0]]].append(Neighbour(VertexRef(r[1], r[2]), r[3], r[4], r[5], ()))
            return out
        hours = ""
        if start is not None:
            hours = " AND h.hour >= ? AND h.hour < ?"
            args = [start, end, *args]
        join_other = f" JOIN vertices o ON o.id = e.{far}" if other_labels is not None else ""
        # Sum per edge first, then name the other ends: grouping in the order of the
        # (src, label, dst, qualifier) index needs no temporary B-tree over every hour row,
        # and each other end is looked up once per edge, not once per hour.
        group = "e.src, e.label, e.dst, e.qualifier" if near == "src" else "e.id"
        query = (
            "SELECT x.near AS c0, v.label AS c1, v.key AS c2, x.qualifier AS c3, x.first AS c4,"
            " x.last AS c5, x.s0 AS c6, x.s1 AS c7, x.s2 AS c8, x.s3 AS c9"
            f" FROM (SELECT e.{near} AS near, e.{far} AS far, e.qualifier AS qualifier,"
            " e.first AS first, e.last AS last,"
            " sum(h.c0) AS s0, sum(h.c1) AS s1, sum(h.c2) AS s2, sum(h.c3) AS s3"
            f" FROM edges e JOIN edge_hours h ON h.edge = e.id{hours}{join_other}"
            f" WHERE {where} GROUP BY {group}) x"
            " JOIN vertices v ON v.id = x.far"
        )
        try:
            rows = _one_step(self._conn(), query, 10, args)
        except sqlite3.OperationalError as e:
            if "integer overflow" not in str(e):
                raise
            # saturated counters (rare): the same read with the writer's saturating sum
            rows = _one_step(self._conn(), query.replace(" sum(", " ssum("), 10, args)
        for r in sorted(rows, key=_other_end):
            out[ids[r[0]]].append(
                Neighbour(VertexRef(r[1], r[2]), r[3], r[4], r[5], tuple(r[6 : 6 + n]))
            )
        return out

    def series(
        self,
        graph: str,
        refs: Sequence[VertexRef],
        edge_label: str,
        *,
        direction: Direction,
        start: int,
        end: int,
        other_labels: frozenset[str] | None = None,
        others: Sequence[VertexRef] | None = None,
        qualifier: str | None = None,
    ) -> dict[VertexRef, list[tuple[int, tuple[int, ...]]]]:
        in_range(start, end)
        n = len(EDGE_TYPES[edge_label].counters)
        gid = self._graph_id(graph)
        ids, near, far, (where, *args) = self._edge_filter(
            gid, refs, edge_label, direction, other_labels, others
        )
        out: dict[VertexRef, list[tuple[int, tuple[int, ...]]]] = {r: [] for r in ids.values()}
        if not ids:
            return out
        join_other = f" JOIN vertices o ON o.id = e.{far}" if other_labels is not None else ""
        if qualifier is not None:
            where += " AND e.qualifier = ?"
            args.append(qualifier)
        # as in series_by_other: one text list per ref, summed by numpy (an account's 45 days
        # are tens of thousands of hourly rows; grouping them by hour in SQLite sorts them all)
        base = start - start % HOUR
        hours = hour_columns(base, end)
        lists = ", ".join(f"group_concat(h.c{i})" for i in range(n))
        rows = self._conn().execute(
            f"SELECT e.{near}, group_concat((h.hour - ?) / {HOUR}), {lists}"
            " FROM edges e JOIN edge_hours h ON h.edge = e.id AND h.hour >= ? AND h.hour < ?"
            f"{join_other} WHERE {where} GROUP BY e.{near}",
            [base, start, end, *args],
        )
        for r in rows:
            column = np.fromstring(r[1], dtype=np.int64, sep=",")
            present = np.flatnonzero(np.bincount(column, minlength=hours)).tolist()
            sums = [_summed(column, r[2 + i], hours)[present].tolist() for i in range(n)]
            out[ids[r[0]]] = [
                (base + h * HOUR, counts)
                for h, counts in zip(present, zip(*sums, strict=True), strict=True)
            ]
        return out

    def series_by_other(
        self,
        graph: str,
        refs: Sequence[VertexRef],
        edge_label: str,
        *,
        direction: Direction,
        start: int,
        end: int,
    ) -> dict[VertexRef, dict[VertexRef, HourCounts]]:
        in_range(start, end)
        hour_columns(start, end)  # refuses an unaligned start, whatever the refs
        n = len(EDGE_TYPES[edge_label].counters)
        ids, near, far, (where, *args) = self._edge_filter(
            self._graph_id(graph), refs, edge_label, direction, None, None
        )
        if not ids:
            return {}
        if direction is Direction.OUT and edge_label in sqlite_days.DAY_LABELS:
            pairs, counts = sqlite_days.read(self._conn(), list(ids), edge_label, start, end)
        else:
            pairs, counts = self._hour_pairs(ids, near, far, where, args, n, start, end)
        names = self._refs(sorted(set(pairs[:, 1].tolist())))
        out: dict[VertexRef, dict[VertexRef, HourCounts]] = {}
        for (a, b), row in zip(pairs.tolist(), counts, strict=True):
            out.setdefault(ids[a], {})[names[b]] = row
        return out

    def _hour_pairs(
        self,
        ids: dict[int, VertexRef],
        near: str,
        far: str,
        where: str,
        args: list[Any],
        n: int,
        start: int,
        end: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`series_by_other` from the hour rows: the (near, far) pairs found, (k, 2), and
        their counts summed over qualifiers, int64 (k, counters, hours)."""
        hours = hour_columns(start, end)
        # The hours leave SQLite as text lists parsed by numpy, not as one row per hour and edge:
        # building those Python tuples cost more than the read (76k rows, an account's calls
        # over 46 days). One row for the whole read: SQLite then runs it in one step, with the
        # GIL released throughout (a step per group would take it back between groups, and
        # with other request threads busy each retake can wait a switch interval).
        # (the near ends' list only when there are several: a profile reads one entity)
        one = next(iter(ids)) if len(ids) == 1 else None
        lists = ", ".join(f"group_concat(h.c{i})" for i in range(n))
        row = (
            self._conn()
            .execute(
                f"SELECT {'NULL' if one is not None else f'group_concat(e.{near})'},"
                f" group_concat(e.{far}), group_concat((h.hour - ?) / {HOUR}), {lists}"
                " FROM edges e JOIN edge_hours h ON h.edge = e.id AND h.hour >= ? AND h.hour < ?"
                f" WHERE {where}",
                [start, start, end, *args],
            )
            .fetchone()
        )
        if row is None or row[1] is None:
            return np.zeros((0, 2), np.int64), np.zeros((0, n, hours), np.int64)
        fars, column = (np.fromstring(t, dtype=np.int64, sep=",") for t in row[1:3])
        nears = (
            np.full(len(fars), one, dtype=np.int64)
            if one is not None
            else np.fromstring(row[0], dtype=np.int64, sep=",")
        )
        pairs, inverse = sqlite_days.unique_pairs(nears, fars)
        cells = inverse * hours + column
        counts = np.empty((len(pairs), n, hours), dtype=np.int64)
        for i in range(n):
            counts[:, i, :] = _summed(cells, row[3 + i], len(pairs) * hours).reshape(-1, hours)
        return pairs, counts

    def _export(self, gid: int, graph: str) -> Iterator[dict[str, Any]]:
        con = self._conn()
        vertices = con.execute(
            "SELECT label, key, first, last, props FROM vertices WHERE graph=? ORDER BY label, key",
            (gid,),
        )
        for label, key, first, last, props in vertices:
            yield vertex_record(graph, label, key, first, last, json.loads(props))
        rows = con.execute(
            "SELECT e.id, e.label, s.label, s.key, d.label, d.key, e.qualifier, e.first, e.last,"
            " h.hour, h.c0, h.c1, h.c2, h.c3 FROM edges e"
            " JOIN vertices s ON s.id = e.src JOIN vertices d ON d.id = e.dst"
            " JOIN edge_hours h ON h.edge = e.id WHERE s.graph = ?"
            " ORDER BY e.label, s.label, s.key, d.label, d.key, e.qualifier, h.hour",
            (gid,),
        )
        current: int | None = None
        head: tuple[Any, ...] = ()
        hours: list[tuple[int, tuple[int, ...]]] = []
        for r in rows:
            if r[0] != current:
                if current is not None:
                    yield _edge(graph, head, hours)
                current, head, hours = r[0], r[1:9], []
            hours.append((r[9], tuple(r[10:14])))
        if current is not None:
            yield _edge(graph, head, hours)


def _edge(
    graph: str, head: tuple[Any, ...], hours: list[tuple[int, tuple[int, ...]]]
) -> dict[str, Any]:
    label, sl, sk, dl, dk, qualifier, first, last = head
    return edge_record(
        graph, label, VertexRef(sl, sk), VertexRef(dl, dk), qualifier, first, last, hours
    )
