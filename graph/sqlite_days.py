"""Day series of the embedded store: counted edges of some labels summed over their qualifiers,
one row per (source vertex, label, UTC day, target vertex) holding the hours of that day that
have counts.

A principal's API call baseline reads 46 days of its calls per method (`series_by_other`). From
`edge_hours` that is one row per (method, source IP, hour): the busiest account of the 10M
benchmark has 76k of them, 18 ms of SQLite alone before any parsing. Its day series are 3.2k
rows, read in about 3 ms. The writer keeps them in the same transaction as `edge_hours`, and
retention and graph deletion trim them in theirs, so they always equal the sums of `edge_hours`
(`rebuild` recomputes them from it, for stores written before they existed).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from functools import cache
from itertools import chain, repeat

import msgspec
import numpy as np

from graph.batch import EdgeDelta
from graph.membership import DAY
from graph.model import CALLED, COUNTER_MAX, EDGE_TYPES, HOUR, VertexRef
from graph.sqlite_bulk import insert_rows
from graph.store import hour_columns

# Only what reads need: `series_by_other` over CALLED, from the caller's side.
_REBUILD_CHUNK = 100_000  # hour rows folded at a time by `rebuild`
DAY_LABELS = frozenset({CALLED})

DDL = """
CREATE TABLE IF NOT EXISTS day_series (
    src INTEGER NOT NULL,
    label TEXT NOT NULL,
    day INTEGER NOT NULL,
    dst INTEGER NOT NULL,
    counts BLOB NOT NULL,
    PRIMARY KEY (src, label, day, dst)
) WITHOUT ROWID;
"""


@cache
def _width(label: str) -> int:
    return len(EDGE_TYPES[label].counters)


@cache
def _dtype(label: str) -> np.dtype[np.void]:
    """One entry of a day row: the hour of the day, then the label's counters as int64 (the
    writer packs rows with it, reads parse them)."""
    return np.dtype([("h", "u1"), ("c", "<i8", (_width(label),))])


def write(
    con: sqlite3.Connection, edges: Sequence[EdgeDelta], ids: Mapping[VertexRef, int]
) -> None:
    """Add a batch's deltas to the day rows it touches (inside the writer's transaction).

    Column by column: a CloudTrail batch holds about 100k hourly CALLED counts, and a Python
    loop folding them into day cells one by one was a fifth of the store's write."""
    for label in sorted(DAY_LABELS):
        entries = _entries(label, [ed for ed in edges if ed.label == label], ids)
        if entries is not None:
            _write_label(con, label, entries)


# (src, day, dst, hour of the day, counters (n, width)): one entry per counted hour
_Entries = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _entries(
    label: str, edges: Sequence[EdgeDelta], ids: Mapping[VertexRef, int]
) -> _Entries | None:
    if not edges:
        return None
    per_edge = np.fromiter((len(ed.hours) for ed in edges), np.int64, len(edges))
    total = int(per_edge.sum())
    hour = np.fromiter(chain.from_iterable([ed.hours for ed in edges]), np.int64, total)
    width = _width(label)
    values = [ed.hours.values() for ed in edges]
    try:
        flat = np.fromiter(
            chain.from_iterable(chain.from_iterable(values)), np.int64, total * width
        )
    except OverflowError:  # deltas past int64 (sums of huge but valid inputs): clamped later
        flat = np.array(list(chain.from_iterable(chain.from_iterable(values))), dtype=object)
    counts = flat.reshape(total, width)
    src = np.repeat(np.fromiter((ids[ed.src] for ed in edges), np.int64, len(edges)), per_edge)
    dst = np.repeat(np.fromiter((ids[ed.dst] for ed in edges), np.int64, len(edges)), per_edge)
    day = hour - hour % DAY
    return src, day, dst, (hour - day) // HOUR, counts


def _write_label(con: sqlite3.Connection, label: str, new: _Entries) -> None:
    src, day, dst, hod, counts = _sorted(*new)
    row = _starts(src, day, dst)
    keys = np.stack([src[row], day[row], dst[row]], axis=1)
    # CROSS JOIN: look each key up in the primary key instead of scanning the table
    found = con.execute(
        "SELECT d.src, d.day, d.dst, d.counts FROM json_each(?) j CROSS JOIN day_series d"
        " ON d.src = j.value ->> 0 AND d.label = ? AND d.day = j.value ->> 1"
        " AND d.dst = j.value ->> 2",
        (msgspec.json.encode(keys.tolist()).decode(), label),
    ).fetchall()
    if found:
        stored = [np.frombuffer(r[3], dtype=_dtype(label)) for r in found]
        lengths = [len(e) for e in stored]
        old = np.concatenate(stored)
        src = np.concatenate([src, np.repeat([r[0] for r in found], lengths)])
        day = np.concatenate([day, np.repeat([r[1] for r in found], lengths)])
        dst = np.concatenate([dst, np.repeat([r[2] for r in found], lengths)])
        hod = np.concatenate([hod, old["h"].astype(np.int64)])
        counts = np.concatenate([counts, old["c"].astype(counts.dtype)])
        src, day, dst, hod, counts = _sorted(src, day, dst, hod, counts)
        row = _starts(src, day, dst)
    if counts.dtype != object and counts.size and int(counts.max()) > COUNTER_MAX // len(counts):
        counts = counts.astype(object)  # sums could pass int64: exact, then clamped
    cell = row.copy()
    cell[1:] |= hod[1:] != hod[:-1]
    starts = np.flatnonzero(cell)
    summed = np.minimum(np.add.reduceat(counts, starts, axis=0), COUNTER_MAX)  # saturate
    packed = np.empty(len(starts), dtype=_dtype(label))
    packed["h"] = hod[starts]
    packed["c"] = summed.astype(np.int64)
    blob = packed.tobytes()
    size = packed.dtype.itemsize
    first = np.flatnonzero(row[starts])  # each day row's first entry among the summed ones
    bounds = [*(first * size).tolist(), len(blob)]
    rows = zip(
        src[starts[first]].tolist(),
        repeat(label),
        day[starts[first]].tolist(),
        dst[starts[first]].tolist(),
        (blob[a:b] for a, b in zip(bounds, bounds[1:], strict=False)),
        strict=False,
    )
    insert_rows(
        con,
        "day_series(src, label, day, dst, counts)",
        5,
        rows,
        len(first),
        verb="INSERT OR REPLACE",
    )


def _sorted(*columns: np.ndarray) -> _Entries:
    """The entries (src, day, dst, hour of the day, counts) in primary key order, each day
    row's hours ascending."""
    src, day, dst, hod, counts = columns
    order = _order(src, day, dst, hod)
    return src[order], day[order], dst[order], hod[order], counts[order]


def _order(src: np.ndarray, day: np.ndarray, dst: np.ndarray, hod: np.ndarray) -> np.ndarray:
    """The permutation sorting entries by (src, day, dst, hour of the day): one argsort of the
    four packed into an int64 when their ranges allow (three times faster than lexsort), else
    lexsort. Equal entries are summed afterwards, so their order does not matter."""
    if not len(src):
        return np.arange(0)
    low = [int(c.min()) for c in (src, day, dst)]
    days = (int(day.max()) - low[1]) // DAY + 1
    ids = (int(src.max()) - low[0] + 1, int(dst.max()) - low[2] + 1)
    if ids[0] * days * ids[1] * 24 >= 1 << 62:
        return np.lexsort((hod, dst, day, src))
    code = (src - low[0]) * days + (day - low[1]) // DAY
    code = (code * ids[1] + (dst - low[2])) * 24 + hod
    return np.argsort(code)


def _starts(src: np.ndarray, day: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Of sorted entries: True where a day row (src, day, dst) starts."""
    start = np.ones(len(src), dtype=bool)
    start[1:] = (src[1:] != src[:-1]) | (day[1:] != day[:-1]) | (dst[1:] != dst[:-1])
    return start


def unique_pairs(nears: np.ndarray, fars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (near, far) id pairs, sorted, as a (k, 2) array, and each input's index
    into them (both `series_by_other` reads: from day rows and from hour rows)."""
    # vertex ids are rowids, far below 2^31 in practice: one int64 key per pair sorts fastest
    span = int(fars.max()) + 1
    if int(nears.max()) < np.iinfo(np.int64).max // span:
        keys, inverse = np.unique(nears * span + fars, return_inverse=True)
        return np.stack([keys // span, keys % span], axis=1), inverse.reshape(-1)
    pairs, inverse = np.unique(np.stack([nears, fars], axis=1), axis=0, return_inverse=True)
    return pairs, inverse.reshape(-1)


def read(
    con: sqlite3.Connection, ids: Sequence[int], label: str, start: int, end: int
) -> tuple[np.ndarray, np.ndarray]:
    """The hours of `ids`' day rows of `label` in [start, end) (hour-aligned `start`): the
    (near id, far id) pairs found, (k, 2), and their counts, int64 (k, counters, hours)."""
    marks = ",".join("?" * len(ids))
    one = ids[0] if len(ids) == 1 else None
    hours = hour_columns(start, end)
    dtype = _dtype(label)
    # One row for the whole read, so SQLite runs it in one step with the GIL released (one
    # row per day row would take the GIL back thousands of times while other requests run).
    # group_concat keeps a blob's bytes, zeros included; the cast hands them over as bytes.
    row = con.execute(
        f"SELECT {'NULL' if one is not None else 'group_concat(src)'}, group_concat(dst),"
        " group_concat(day), group_concat(length(counts)), CAST(group_concat(counts, '') AS BLOB)"
        f" FROM day_series WHERE src IN ({marks}) AND label = ? AND day >= ? AND day < ?",
        (*ids, label, start - start % DAY, end),
    ).fetchone()
    if row is None or row[1] is None:
        return np.zeros((0, 2), np.int64), np.zeros((0, dtype["c"].shape[0], hours), np.int64)

    def ints(text: str) -> np.ndarray:
        return np.fromstring(text, dtype=np.int64, sep=",")

    # pairs are found among day rows (thousands), not among their hours (tens of thousands)
    far, day = ints(row[1]), ints(row[2])
    near = np.full(len(far), one, dtype=np.int64) if one is not None else ints(row[0])
    pairs, pair_of_row = unique_pairs(near, far)
    per_row = ints(row[3]) // dtype.itemsize
    entries = np.frombuffer(row[4], dtype=dtype)
    pair = np.repeat(pair_of_row, per_row)
    column = np.repeat((day - start) // HOUR, per_row) + entries["h"]
    keep = (column >= 0) & (column < hours)
    pair, column, values = pair[keep], column[keep], entries["c"][keep]
    n = values.shape[1]
    counts = np.zeros((len(pairs), n, hours), dtype=np.int64)
    # one day row per (pair, day) and one entry per hour in it: every cell is set once
    flat = counts.reshape(-1)
    for i in range(n):
        flat[(pair * n + i) * hours + column] = values[:, i]
    found = np.bincount(pair, minlength=len(pairs)) > 0
    return pairs[found], counts[found]


def rebuild(con: sqlite3.Connection, where: str = "true", args: Sequence[object] = ()) -> None:
    """Recompute the day rows holding the hours that match `where` (over `edges e` and
    `edge_hours h`) from `edge_hours`, folded as the writer folds a batch. The caller holds the
    write transaction and has deleted the rows being replaced."""
    for label in sorted(DAY_LABELS):
        counters = ", ".join(f"h.c{i}" for i in range(_width(label)))
        # ordered like the edges' unique index, so SQLite sorts nothing and a day row rarely
        # spans two chunks (one that does is merged by the look-up of the chunk after)
        rows = con.execute(
            f"SELECT e.src, e.dst, h.hour, {counters} FROM edges e JOIN edge_hours h"
            f" ON h.edge = e.id WHERE e.label = ? AND {where} ORDER BY e.src, e.label, e.dst",
            (label, *args),
        )
        while chunk := rows.fetchmany(_REBUILD_CHUNK):
            table = np.array(chunk, dtype=np.int64)
            src, dst, hour = table[:, 0], table[:, 1], table[:, 2]
            day = hour - hour % DAY
            _write_label(con, label, (src, day, dst, (hour - day) // HOUR, table[:, 3:]))
