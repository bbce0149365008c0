"""The embedded store: the behavior graph in one SQLite file.

It is the default backend and the reference implementation of the store contract (and the test
double that JanusGraph is compared against). WAL mode lets one loader write while the API reads.
Writes cache vertex and edge ids between batches; the cache is safe because first/last observed
only ever grow outwards (min/max in SQL), and it is dropped whenever anything was deleted
(a generation counter in `meta`) or a transaction rolled back.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgspec

from graph import sqlite_days, sqlite_rows
from graph.batch import (
    EdgeDelta,
    LedgerEntry,
    VertexDelta,
    WriteBatch,
    merge_prop,
    repeats,
    validate_batch,
    version_order,
)
from graph.model import COUNTER_MAX, EDGE_TYPES, MAX_COUNTERS, VERTEX_TYPES, Scalar, VertexRef
from graph.sqlite_bulk import insert_rows
from graph.sqlite_membership import SqliteMembership
from graph.sqlite_reads import SaturatingSum, SqliteReads
from graph.sqlite_schema import DDL, PRAGMAS, SCHEMA_VERSION, edges_of_graph
from graph.store import GraphInfo, GraphNotFound, LedgerConflict, StoreError

# Vertex ids and properties kept between batches. Measured on 2 million events of 150 accounts:
# the same CPU time with 50,000 entries as with 200,000, and 90 MB less peak memory (a load of
# 10 million events must stay within 512 MB).
_CACHE_LIMIT = 50_000
_STAGE_EDGES = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_edges (n INTEGER PRIMARY KEY, label TEXT,"
    " src INTEGER, dst INTEGER, qualifier TEXT, first INTEGER, last INTEGER, id INTEGER)"
)
_STAGE_HOURS = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_hours (n INTEGER, hour INTEGER,"
    " c0 INTEGER DEFAULT 0, c1 INTEGER DEFAULT 0, c2 INTEGER DEFAULT 0, c3 INTEGER DEFAULT 0)"
)
# a label's hourly rows bind only its counters (the others default to 0: fewer parameters)
_HOURS_INTO = {
    width: f"temp.staged_hours(n, hour{''.join(f', c{i}' for i in range(width))})"
    for width in range(1, MAX_COUNTERS + 1)
}

_EDGES_INTO = "temp.staged_edges(n, label, src, dst, qualifier, first, last)"
_EDGE_KEY = itemgetter(0, 1, 2, 3)
_UPSERT_HOURS = (
    "INSERT INTO edge_hours(edge, hour, c0, c1, c2, c3)"
    " SELECT s.id, h.hour, h.c0, h.c1, h.c2, h.c3 FROM temp.staged_hours h"
    " JOIN temp.staged_edges s ON s.n = h.n WHERE true"
    " ON CONFLICT(edge, hour) DO UPDATE SET "
    + ", ".join(f"c{i}=min(c{i}+excluded.c{i}, {COUNTER_MAX})" for i in range(MAX_COUNTERS))
)


class SqliteStore(SqliteReads, SqliteMembership):
    # bench.vpcflow: 13-19% less CPU with 480k flows per write than with 60k; the loader's peak
    # RSS on its 2M records grew from 314 to 434 MB (1M flows: up to 4% less again, +100 MB)
    batch_rows_hint = 480_000

    def __init__(self, path: str | Path, *, uri: str | None = None) -> None:
        self.path = Path(path)
        self.uri = uri or f"sqlite://{self.path.resolve()}"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._vcache: dict[tuple[int, str, str], list[Any]] = {}
        self._generation = ""
        self._graph_ids: dict[str, int] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._conn()
        with self._lock:
            con.executescript(DDL)
            con.execute(
                "INSERT OR IGNORE INTO meta(k, v) VALUES ('schema', ?), ('generation', '0')",
                (SCHEMA_VERSION,),
            )
            found = con.execute("SELECT v FROM meta WHERE k='schema'").fetchone()[0]
            if found == "1":
                found = self._upgrade_from_1(con)
        if found != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema version {found}, expected {SCHEMA_VERSION}")

    @staticmethod
    def _upgrade_from_1(con: sqlite3.Connection) -> str:
        """Version 2 added the day series (graph.sqlite_days): build them from the hours."""
        con.execute("BEGIN IMMEDIATE")
        try:
            # another process may have upgraded the file since it was read
            if con.execute("SELECT v FROM meta WHERE k='schema'").fetchone()[0] == "1":
                con.execute("DELETE FROM day_series")
                sqlite_days.rebuild(con)
                con.execute("UPDATE meta SET v = ? WHERE k='schema'", (SCHEMA_VERSION,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return str(con.execute("SELECT v FROM meta WHERE k='schema'").fetchone()[0])

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in PRAGMAS:
                con.execute(pragma)
            # (typeshed wants finalize() -> int; like sum(), ssum() of only NULLs is NULL)
            con.create_aggregate("ssum", 1, SaturatingSum)  # type: ignore[arg-type]
            self._local.con = con
            with self._lock:
                self._all.append(con)
        return con

    def close(self) -> None:
        with self._lock:
            for con in self._all:
                con.close()
            self._all.clear()
        self._local = threading.local()

    # -- graphs ------------------------------------------------------------------------------
    def create_graph(self, info: GraphInfo) -> GraphInfo:
        con = self._conn()
        con.execute(
            "INSERT OR IGNORE INTO graphs(arn, admin_account, created, takes_all_accounts, props)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                info.arn,
                info.admin_account,
                info.created,
                int(info.takes_all_accounts),
                json.dumps(dict(info.props), sort_keys=True),
            ),
        )
        return next(g for g in self.list_graphs() if g.arn == info.arn)

    def list_graphs(self) -> list[GraphInfo]:
        rows = self._conn().execute(
            "SELECT arn, admin_account, created, takes_all_accounts, props FROM graphs ORDER BY arn"
        )
        return [GraphInfo(r[0], r[1], r[2], bool(r[3]), json.loads(r[4])) for r in rows]

    def _graph_id(self, arn: str) -> int:
        gid = self._graph_ids.get(arn)
        if gid is None:
            row = self._conn().execute("SELECT id FROM graphs WHERE arn=?", (arn,)).fetchone()
            if row is None:
                raise GraphNotFound(f"no graph {arn} in {self.uri}")
            gid = self._graph_ids[arn] = row[0]
        return gid

    def delete_graph(self, arn: str) -> None:
        gid = self._graph_id(arn)
        con = self._conn()
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                f"DELETE FROM edge_hours WHERE edge IN (SELECT id FROM edges WHERE"
                f" {edges_of_graph()})",
                (gid,),
            )
            con.execute(f"DELETE FROM edges WHERE {edges_of_graph()}", (gid,))
            con.execute(
                "DELETE FROM day_series WHERE src IN (SELECT id FROM vertices WHERE graph=?)",
                (gid,),
            )
            for table in ("terms", "vertices", "ledger", "members", "volume"):
                con.execute(f"DELETE FROM {table} WHERE graph=?", (gid,))
            con.execute("DELETE FROM org_admins WHERE graph=?", (arn,))
            con.execute("DELETE FROM graphs WHERE id=?", (gid,))
            con.execute("UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k='generation'")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            self._graph_ids.pop(arn, None)
            self._drop_caches()

    # -- ledger ------------------------------------------------------------------------------
    def ledger(self, graph: str, sources: Sequence[str]) -> dict[str, list[LedgerEntry]]:
        gid = self._graph_id(graph)
        out: dict[str, list[LedgerEntry]] = {}
        con = self._conn()
        for chunk in _chunks(list(dict.fromkeys(sources)), 500):
            marks = ",".join("?" * len(chunk))
            rows = con.execute(
                "SELECT source, version, size, status, kind, records, loaded, skipped, errors,"
                f" loaded_at, hint FROM ledger WHERE graph=? AND source IN ({marks})"
                " ORDER BY source, loaded_at, version",
                (gid, *chunk),
            )
            for r in rows:
                entry = LedgerEntry(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    tuple(json.loads(r[8])),
                    r[9],
                    r[10],
                )
                out.setdefault(r[0], []).append(entry)
        return out

    # -- writes ------------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> None:
        validate_batch(batch)
        if any(rows.label in sqlite_days.DAY_LABELS for rows in batch.rows):
            batch = batch.with_rows_folded()  # day series are kept from EdgeDeltas
        gid = self._graph_id(batch.graph)
        con = self._conn()
        con.execute("BEGIN IMMEDIATE")
        try:
            generation = con.execute("SELECT v FROM meta WHERE k='generation'").fetchone()[0]
            if generation != self._generation:
                self._drop_caches()
                self._generation = generation
                # another process may have deleted the graph and created it again
                self._graph_ids.pop(batch.graph, None)
                gid = self._graph_id(batch.graph)
            self._check_ledger(con, gid, batch.ledger)
            ids = self._write_vertices(con, gid, batch.vertices)
            self._write_edges(con, gid, batch.edges, ids)
            sqlite_rows.write_rows(con, gid, batch.rows, ids)
            insert_rows(
                con,
                "ledger(graph, source, version, size, status, kind, records, loaded, skipped,"
                " errors, loaded_at, hint)",
                12,
                [
                    (
                        gid,
                        e.source,
                        e.version,
                        e.size,
                        e.status,
                        e.kind,
                        e.records,
                        e.loaded,
                        e.skipped,
                        json.dumps(list(e.errors)) if e.errors else "[]",
                        e.loaded_at,
                        e.hint,
                    )
                    for e in batch.ledger
                ],
                len(batch.ledger),
                verb="INSERT OR REPLACE",
            )
            self._add_volume(con, gid, batch.volume)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            # ids handed out inside the rolled-back transaction no longer exist
            self._drop_caches()
            raise

    def _drop_caches(self) -> None:
        self._vcache.clear()

    @staticmethod
    def _check_ledger(con: sqlite3.Connection, gid: int, entries: Sequence[LedgerEntry]) -> None:
        # one statement for the whole batch (a batch can hold tens of thousands of small objects);
        # CROSS JOIN keeps the planner from scanning the graph's whole ledger per entry
        # (text, not bytes: SQLite would read a blob as JSONB)
        wanted = msgspec.json.encode([[e.source, e.version] for e in entries]).decode()
        done = [
            r[0]
            for r in con.execute(
                "SELECT l.source FROM json_each(?) j CROSS JOIN ledger l"
                " ON l.graph = ? AND l.source = j.value ->> 0 AND l.version = j.value ->> 1"
                " WHERE l.status != 'failed'",
                (wanted, gid),
            )
        ]
        if done:
            raise LedgerConflict(done)

    def _write_vertices(
        self, con: sqlite3.Connection, gid: int, vertices: Sequence[VertexDelta]
    ) -> dict[VertexRef, int]:
        cache = self._vcache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        ids: dict[VertexRef, int] = {}
        for vd in vertices:
            ck = (gid, vd.label, vd.key)
            cached = cache.get(ck)
            if cached is None:
                row = con.execute(
                    "SELECT id, first, last, props FROM vertices"
                    " WHERE graph=? AND label=? AND key=?",
                    ck,
                ).fetchone()
                if row is None:
                    vid = con.execute(
                        "INSERT INTO vertices(graph, label, key, first, last, props)"
                        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                        (gid, vd.label, vd.key, vd.first, vd.last, _props_json(vd.props)),
                    ).fetchone()[0]
                    self._add_terms(con, gid, vd.label, vid, vd.key, vd.props)
                    cache[ck] = [vid, vd.first, vd.last, dict(vd.props)]
                    ids[vd.ref] = vid
                    continue
                cached = cache[ck] = [row[0], row[1], row[2], json.loads(row[3])]
            vid, first, last, props = cached
            ids[vd.ref] = vid
            merged = _merged(vd.label, props, vd.props)
            if merged is not None:
                # re-read inside the write lock: another process may have set properties
                fresh = json.loads(
                    con.execute("SELECT props FROM vertices WHERE id=?", (vid,)).fetchone()[0]
                )
                merged = _merged(vd.label, fresh, vd.props) or fresh
                con.execute(
                    "UPDATE vertices SET first=min(first, ?), last=max(last, ?), props=?"
                    " WHERE id=?",
                    (vd.first, vd.last, _props_json(merged), vid),
                )
                self._add_terms(con, gid, vd.label, vid, None, merged)
                cached[3] = merged
            elif vd.first < first or vd.last > last:
                con.execute(
                    "UPDATE vertices SET first=min(first, ?), last=max(last, ?) WHERE id=?",
                    (vd.first, vd.last, vid),
                )
            cached[1] = min(first, vd.first)
            cached[2] = max(last, vd.last)
        return ids

    @staticmethod
    def _add_terms(
        con: sqlite3.Connection,
        gid: int,
        label: str,
        vid: int,
        key: str | None,
        props: dict[str, Scalar],
    ) -> None:
        terms = {props.get(p) for p in VERTEX_TYPES[label].search}
        if key is not None:
            terms.add(key)
        con.executemany(
            "INSERT OR IGNORE INTO terms(graph, label, term, vertex) VALUES (?, ?, ?, ?)",
            [(gid, label, t, vid) for t in terms if isinstance(t, str) and t],
        )

    def _write_edges(
        self,
        con: sqlite3.Connection,
        gid: int,
        edges: Sequence[EdgeDelta],
        ids: dict[VertexRef, int],
    ) -> None:
        """Stage the batch's edges in temp tables, then upsert them with two set statements,
        so that matching staged rows to edge ids happens inside SQLite, not row by row here."""
        keyed: list[tuple[int, str, int, str, EdgeDelta]] = []
        for ed in edges:
            try:
                keyed.append((ids[ed.src], ed.label, ids[ed.dst], ed.qualifier, ed))
            except KeyError as missing:
                missing_end = f"{ed.label} edge endpoint {missing} is not in the batch"
                raise ValueError(missing_end) from None
        # in the order of the edges' unique index: each insert and look-up lands next to the
        # one before (the same reason VPC flows come sorted: loaders/vpcflow_batch.py)
        keyed.sort(key=_EDGE_KEY)
        staged: list[tuple[Any, ...]] = []
        hours: dict[int, list[tuple[int, ...]]] = {}  # by counter width
        for n, (src, label, dst, qualifier, ed) in enumerate(keyed):
            staged.append((n, label, src, dst, qualifier, ed.first, ed.last))
            # (validate_batch made every hour of a label carry its counters: one width per edge)
            width = len(EDGE_TYPES[label].counters)
            rows = hours.get(width)
            if rows is None:
                rows = hours[width] = []
            rows.extend([(n, hour, *counts) for hour, counts in ed.hours.items()])
        con.execute(_STAGE_EDGES)
        con.execute(_STAGE_HOURS)
        insert_rows(con, _EDGES_INTO, 7, staged, len(staged))
        try:
            for width, rows in hours.items():
                insert_rows(con, _HOURS_INTO[width], 2 + width, rows, len(rows))
        except OverflowError:
            # a counter past int64 (sums of huge but valid inputs): saturate, never fail the batch
            con.execute("DELETE FROM temp.staged_hours")
            for width, rows in hours.items():
                clamped = [(n, h, *(min(v, COUNTER_MAX) for v in c)) for n, h, *c in rows]
                insert_rows(con, _HOURS_INTO[width], 2 + width, clamped, len(clamped))
        con.execute(
            "INSERT INTO edges(graph, label, src, dst, qualifier, first, last)"
            " SELECT ?, label, src, dst, qualifier, first, last FROM temp.staged_edges WHERE true"
            " ON CONFLICT(src, label, dst, qualifier) DO UPDATE SET"
            " first=min(first, excluded.first), last=max(last, excluded.last)"
            " WHERE excluded.first < first OR excluded.last > last",
            (gid,),
        )
        # match each staged edge to its id once, not once per hourly row
        con.execute(
            "UPDATE temp.staged_edges AS s SET id = e.id FROM edges e"
            " WHERE e.src = s.src AND e.label = s.label AND e.dst = s.dst"
            " AND e.qualifier = s.qualifier"
        )
        con.execute(_UPSERT_HOURS)
        sqlite_days.write(con, edges, ids)
        con.execute("DELETE FROM temp.staged_hours")
        con.execute("DELETE FROM temp.staged_edges")

    def export(self, graph: str) -> Iterator[dict[str, Any]]:
        return self._export(self._graph_id(graph), graph)


_PROPS = msgspec.json.Encoder(order="sorted")


def _props_json(props: dict[str, Scalar]) -> str:
    # (msgspec: a quarter of json.dumps's time; the text is only ever parsed back)
    kept = {k: v for k, v in props.items() if v is not None}
    if any(type(v) is float and not math.isfinite(v) for v in kept.values()):
        return json.dumps(kept, sort_keys=True)  # NaN and infinities: msgspec writes null
    return _PROPS.encode(kept).decode()


def _merged(label: str, old: dict[str, Scalar], new: dict[str, Scalar]) -> dict[str, Scalar] | None:
    """The merged properties, or None when `new` changes nothing."""
    if repeats(old, new):  # (also when `new` is empty)
        return None
    vt = VERTEX_TYPES[label]
    order = version_order(vt, old, new)
    out: dict[str, Scalar] | None = None
    for name, value in new.items():
        current = old.get(name)
        merged = merge_prop(vt.merge_of(name), current, value, order)
        if merged != current:
            if out is None:
                out = dict(old)
            out[name] = merged
    return out


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
