"""A batch's VPC flows, kept as arrays per file and summed per flow key once, at expand time.

loaders/vpcflow_stage.py turns each file into entries of flow keys (interface, instance,
hour, remote address, qualifier code) (`FlowPart`). The files of a batch
share most keys (a connection shows up in every 5-minute file of its hour): merging each file
into a dict cost a Python operation per entry per file, the largest share of staging. Here the
parts are concatenated and summed per key by array operations, and Python touches each distinct
flow of the batch once, when its edge rows are written (loaders/vpcflow_graph.py).

The summed flows come sorted by (interface, instance, remote address, qualifier, hour) ids, not
in the order they were first seen: the store then inserts each edge next to the one before in
its indexes (edges by (src, label, dst, qualifier), edge_hours by (edge, hour)), and SQLite's
share of the bench's load fell from 2.8 s to 2.1 s. The order is not part of the graph (ids
are the store's own; interfaces, whose properties keep their first value, are staged per file
in record order by vpcflow_stage, not through this table).

Ids index the vocabularies of loaders/vpcflow_fields.py, which may start again between files
(`checkpoint`); each part keeps the value lists its ids index, and parts staged under older
lists are renumbered into the current ones before they are summed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loaders.vpcflow_fields import I64, VOCABS, Value

# the vocabularies flow keys are ids of: interface, instance, remote address
_KEY_VOCABS = ("interface-id", "instance-id", "srcaddr")
# the columns of FlowPart.table, as CloudTrailDeltas kept them per flow
COLUMNS = ("bytes_in", "bytes_out", "packets_in", "packets_out", "records", "first", "last")
_SUM, _FIRST, _LAST = slice(0, 5), 5, 6
_COMPACT_FROM = 4096


@dataclass(slots=True)
class FlowPart:
    """One file's flows: entry i is the flow (eni[i], instance[i], hour[i], remote[i],
    qualifier[i]) with `table[i]` (see COLUMNS); int64, or Python ints (object) past int64."""

    eni: I64
    instance: I64
    hour: I64
    remote: I64
    qualifier: I64  # vpcflow_stage's qualifier code (fixed ids: never renumbered)
    table: npt.NDArray[Any]
    vocabs: tuple[list[Value], ...]  # the value lists of _KEY_VOCABS the ids index

    def __len__(self) -> int:
        return len(self.hour)


def current_vocabs() -> tuple[list[Value], ...]:
    return tuple(VOCABS[f].values for f in _KEY_VOCABS)


def segments(code: I64) -> tuple[I64, I64, I64]:
    """(order, starts, heads): `order` sorts the rows by code (not stably: the rows of one code
    come in no particular order, so reductions over them must not depend on it); `starts` are
    the positions in it where each run of one code begins; `heads`, each run's least row.
    (A stable sort would give the heads for free, at four times the cost of the sort.)"""
    order, starts = _runs(code)
    heads = np.minimum.reduceat(order, starts) if len(order) else order
    return order, starts, heads


def _runs(code: I64) -> tuple[I64, I64]:
    """(order, starts) of `segments`, without the heads."""
    order = np.argsort(code)
    ordered = code[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return order, starts


def codes(columns: Sequence[I64]) -> I64:
    """One int64 per row, equal for two rows exactly when all their columns are, and ordered as
    the rows are (the first column most significant: `by_key` relies on it): a mixed-radix
    number over the columns, renumbered densely (in order) whenever it would outgrow int64."""
    n = len(columns[0]) if columns else 0
    code = np.zeros(n, dtype=np.int64)
    span = 1
    for col in columns:
        if not n:
            break
        low, high = int(col.min()), int(col.max())
        if low == high:
            continue
        if high - low < 1 << 62:
            digits = np.subtract(col, low, dtype=np.int64)
            # hours are multiples of 3600: dividing by the common step keeps the product of the
            # radices small enough that a batch's keys rarely need renumbering (np.unique with
            # its inverse costs about two sorts of the rows)
            step = _step(digits, high - low)
            if step > 1:
                digits //= step
            radix = (high - low) // step + 1
        else:
            digits, radix = col, 1 << 63
        if span * radix >= 1 << 62:
            if radix >= 1 << 31:
                uniq, inverse = np.unique(col, return_inverse=True)
                digits, radix = inverse.astype(np.int64), len(uniq)
            if span * radix >= 1 << 62:
                uniq, inverse = np.unique(code, return_inverse=True)
                code, span = inverse.astype(np.int64), len(uniq)
        code = code * radix + digits
        span *= radix
    return code


def _step(digits: I64, top: int) -> int:
    """The greatest common divisor of `digits` (which include 0 and `top` > 0): guessed from a
    few of them and checked with one remainder per row (a gcd per row costs several)."""
    guess = int(np.gcd.reduce(np.append(digits[:64], top)))
    if guess == 1 or not np.remainder(digits, guess).any():
        return guess
    return int(np.gcd.reduce(digits))


@dataclass(frozen=True, slots=True)
class Grouping:
    """Rows grouped by equal key, the groups in the order of their first rows (`first_seen`)
    or of their keys (`by_key`, seen=None)."""

    runs: I64  # the rows, sorted by key
    starts: I64  # where each group begins in `runs`
    seen: I64 | None  # groups (in key order) in the order of their first rows
    first: I64  # a row of each group, in that order (with `seen`, its least row)

    def __len__(self) -> int:
        return len(self.first)

    def reduce(self, ufunc: np.ufunc, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """`ufunc` over each group's values (along the first axis), groups in order."""
        if values.ndim == 1:
            reduced: npt.NDArray[Any] = ufunc.reduceat(values[self.runs], self.starts)
            return reduced if self.seen is None else reduced[self.seen]
        # column by column: reduceat along the first axis of a 2-D array loops over the columns
        # inside every group, twice as slow as one pass per column
        out = np.empty((len(self), *values.shape[1:]), dtype=values.dtype)
        for j in range(values.shape[1]):
            out[:, j] = self.reduce(ufunc, values[:, j])
        return out


def first_seen(columns: Sequence[I64], seq: I64 | None = None) -> Grouping:
    """The rows grouped by their values in `columns`, groups in first-seen order: of their
    least row, or of their least `seq` when given (rows in any order)."""
    runs, starts, heads = segments(codes(columns))
    least = heads if seq is None else np.minimum.reduceat(seq[runs], starts)
    seen = np.argsort(least, kind="stable")
    return Grouping(runs, starts, seen, heads[seen])


def by_key(columns: Sequence[I64]) -> Grouping:
    """The rows grouped by their values in `columns`, groups in the order of those values (the
    first column most significant)."""
    runs, starts = _runs(codes(columns))
    return Grouping(runs, starts, None, runs[starts])


class FlowTable:
    """The flows staged for one batch (CloudTrailDeltas.flows)."""

    __slots__ = ("_compact_at", "_compact_from", "parts")

    def __init__(self, *, compact_from: int = _COMPACT_FROM) -> None:
        self.parts: list[FlowPart] = []
        self._compact_from = compact_from
        self._compact_at = compact_from

    def __bool__(self) -> bool:
        return bool(self.parts)

    @property
    def rows(self) -> int:
        """Entries staged: a flow staged by several files counts once per file until the parts
        are summed, which happens whenever they have doubled since (the loader flushes on this
        count: it must not run far ahead of the distinct flows that will be written)."""
        return sum(map(len, self.parts))

    def add(self, part: FlowPart) -> None:
        if len(part):
            self.parts.append(part)
            if self.rows >= self._compact_at:
                self._compact()

    def _compact(self) -> None:
        merged = self.merged()
        self.parts = [] if merged is None else [merged]
        self._compact_at = max(2 * self.rows, self._compact_from)

    def absorb(self, other: FlowTable) -> None:
        """Take every part of `other` (which is left empty)."""
        self.parts.extend(other.parts)
        other.clear()
        if self.rows >= self._compact_at:
            self._compact()

    def clear(self) -> None:
        self.parts = []
        self._compact_at = self._compact_from

    def merged(self) -> FlowPart | None:
        """Every staged entry summed per flow key, flows in the order of their key ids
        (interface, instance, remote address, qualifier, hour: see the module's docstring)."""
        if not self.parts:
            return None
        parts = _renumbered(self.parts)
        key = [np.concatenate([getattr(p, f) for p in parts]) for f in _KEYS]
        table = _stacked([p.table for p in parts])
        # each entry fits int64 (a file's sums, or Python ints); the sums of a key may not
        if table.dtype != object and _sum_bound(table) >= 2.0**62:
            table = table.astype(object)
        eni, instance, hour, remote, qualifier = key
        flows = by_key([eni, instance, remote, qualifier, hour])
        out = np.empty((len(flows), table.shape[1]), dtype=table.dtype)
        out[:, _SUM] = flows.reduce(np.add, table[:, _SUM])
        out[:, _FIRST] = flows.reduce(np.minimum, table[:, _FIRST])
        out[:, _LAST] = flows.reduce(np.maximum, table[:, _LAST])
        eni, instance, hour, remote, qualifier = (k[flows.first] for k in key)
        return FlowPart(eni, instance, hour, remote, qualifier, out, current_vocabs())

    def by_key(self) -> dict[tuple[Any, ...], list[int]]:
        """The staged flows as {(interface, instance, hour, remote address, qualifier): the
        values of COLUMNS}, in `merged`'s order: for inspection (the loader writes `merged`)."""
        from loaders.vpcflow_stage import qualifier_texts, values_of

        flows = self.merged()
        if flows is None:
            return {}
        keys = zip(
            values_of("interface-id", flows.eni),
            values_of("instance-id", flows.instance),
            flows.hour.tolist(),
            values_of("srcaddr", flows.remote),
            qualifier_texts(flows.qualifier),
            strict=True,
        )
        return dict(zip(keys, flows.table.tolist(), strict=True))

    def remote_addresses(self) -> set[str]:
        """The remote addresses of every staged flow."""
        out: set[str] = set()
        for p in self.parts:
            values = p.vocabs[2]
            out.update(values[i] for i in np.unique(p.remote).tolist())
        out.discard(None)
        return out


_KEYS = ("eni", "instance", "hour", "remote", "qualifier")


def _sum_bound(table: npt.NDArray[Any]) -> float:
    """An upper bound of the largest column sum (counters are never negative): the largest
    value times the rows when that is safe enough, else the sums in float64."""
    sums = table[:, _SUM]
    bound = float(sums.max()) * len(sums) if len(sums) else 0.0
    return bound if bound < 2.0**61 else float(np.sum(sums, axis=0, dtype=np.float64).max())


def _stacked(tables: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    if len(tables) == 1:
        return tables[0]
    if any(t.dtype == object for t in tables):
        return np.concatenate([t.astype(object) for t in tables])
    return np.concatenate(tables)


def _renumbered(parts: list[FlowPart]) -> list[FlowPart]:
    """The parts with ids of the current vocabularies (parts staged before a vocabulary
    started again are renumbered: their value lists are still theirs)."""
    now = current_vocabs()
    if all(all(a is b for a, b in zip(p.vocabs, now, strict=True)) for p in parts):
        return parts
    out: list[FlowPart] = []
    for p in parts:
        columns = [p.eni, p.instance, p.remote]
        for j, (values, field) in enumerate(zip(p.vocabs, _KEY_VOCABS, strict=True)):
            if values is now[j]:
                continue
            vocab = VOCABS[field]
            uniq, inverse = np.unique(columns[j], return_inverse=True)
            ids = np.array([vocab.id(values[i]) for i in uniq.tolist()], dtype=np.int64)
            columns[j] = ids[inverse.reshape(-1)]
        eni, instance, remote = columns
        out.append(FlowPart(eni, instance, p.hour, remote, p.qualifier, p.table, now))
    return out
