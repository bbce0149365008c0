"""SQLite: writing EdgeRows (graph/edge_rows.py), hourly edge counts given column by column.

The rows go to one temp table from zipped columns, 64 to a statement (graph/sqlite_bulk.py),
and two set statements do the rest inside SQLite: every row upserts its edge (a row of an edge
already there, stored or earlier in the batch, only widens its first/last observed: cheaper than
grouping the rows first, since most edges have one row); then every row is added into
edge_hours through a look-up of its edge in the (src, label, dst, qualifier) index. Counters
saturate at COUNTER_MAX as SqliteStore's EdgeDelta path does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from itertools import repeat

from graph.edge_rows import EdgeRows
from graph.model import COUNTER_MAX, MAX_COUNTERS, VertexRef
from graph.sqlite_bulk import insert_rows

_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_rows (label TEXT, src INTEGER, dst INTEGER,"
    " qualifier TEXT, hour INTEGER, first INTEGER, last INTEGER,"
    " c0 INTEGER, c1 INTEGER, c2 INTEGER, c3 INTEGER)"
)
_WIDTH = 11
# WHERE true: SQLite's upsert after a SELECT needs it to parse ON CONFLICT
_EDGES = (
    "INSERT INTO edges(graph, label, src, dst, qualifier, first, last)"
    " SELECT ?, label, src, dst, qualifier, first, last FROM temp.staged_rows WHERE true"
    " ON CONFLICT(src, label, dst, qualifier) DO UPDATE SET"
    " first=min(first, excluded.first), last=max(last, excluded.last)"
    " WHERE excluded.first < first OR excluded.last > last"
)
# CROSS JOIN: each row looks its edge up in the unique index, never the other way round
_HOURS = (
    "INSERT INTO edge_hours(edge, hour, c0, c1, c2, c3)"
    " SELECT e.id, r.hour, r.c0, r.c1, r.c2, r.c3 FROM temp.staged_rows r CROSS JOIN edges e"
    " ON e.src = r.src AND e.label = r.label AND e.dst = r.dst AND e.qualifier = r.qualifier"
    " WHERE true ON CONFLICT(edge, hour) DO UPDATE SET "
    + ", ".join(f"c{i}=min(c{i}+excluded.c{i}, {COUNTER_MAX})" for i in range(MAX_COUNTERS))
)


def write_rows(
    con: sqlite3.Connection,
    gid: int,
    blocks: Sequence[EdgeRows],
    ids: Mapping[VertexRef, int],
) -> None:
    """Every block's rows into edges and edge_hours (inside the writer's transaction); the
    endpoints must be among the batch's vertices (`ids`)."""
    if not blocks:
        return
    con.execute(_STAGE)
    try:
        for rows in blocks:
            _stage(con, rows, ids)
        con.execute(_EDGES, (gid,))
        con.execute(_HOURS)
    finally:
        con.execute("DELETE FROM temp.staged_rows")


def _stage(con: sqlite3.Connection, rows: EdgeRows, ids: Mapping[VertexRef, int]) -> None:
    src = _ids_of(rows.label, rows.src_label, rows.src, ids)
    dst = _ids_of(rows.label, rows.dst_label, rows.dst, ids)
    pad = [repeat(0)] * (MAX_COUNTERS - len(rows.counts))
    columns = (repeat(rows.label), src, dst, rows.qualifier, rows.hour, rows.first, rows.last)
    before = con.execute("SELECT coalesce(max(rowid), 0) FROM temp.staged_rows").fetchone()[0]
    try:
        # (not strict: the label and the padding repeat; validate_batch checked the lengths)
        staged = zip(*columns, *rows.counts, *pad, strict=False)
        insert_rows(con, "temp.staged_rows", _WIDTH, staged, len(src))
    except OverflowError:
        # a counter past int64 (sums of huge but valid inputs): saturate, never fail the batch
        # (the block's rows before the bad one are staged already: they go first)
        con.execute("DELETE FROM temp.staged_rows WHERE rowid > ?", (before,))
        clamped = [[min(c, COUNTER_MAX) for c in column] for column in rows.counts]
        staged = zip(*columns, *clamped, *pad, strict=False)
        insert_rows(con, "temp.staged_rows", _WIDTH, staged, len(src))


def _ids_of(
    label: str, vertex_label: str, keys: list[str], ids: Mapping[VertexRef, int]
) -> list[int]:
    by_key = {ref.key: vid for ref, vid in ids.items() if ref.label == vertex_label}
    try:
        return list(map(by_key.__getitem__, keys))
    except KeyError as missing:
        raise ValueError(
            f"{label} edge endpoint {vertex_label} {missing} is not in the batch"
        ) from None
