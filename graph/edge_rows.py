"""Hourly edge counts column by column (`EdgeRows`), beside graph.batch's EdgeDelta per edge.

A VPC flow batch holds hundreds of thousands of edges, most of them new and each counted in one
or two hours. As EdgeDeltas they cost a Python object, a dict and a list each, built by the
loader, walked by validation and walked again by the store; as columns they go from the
loader's arrays to SQLite's executemany without a per-edge object. Stores that take edges one
by one (JanusGraph) fold them into EdgeDeltas first (`WriteBatch.with_rows_folded`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sized
from dataclasses import dataclass

import numpy as np

from graph.batch import EdgeDelta
from graph.model import EDGE_TYPES, HOUR, VertexRef

EdgeKey = tuple[str, VertexRef, VertexRef, str]


@dataclass(frozen=True, slots=True)
class EdgeRows:
    """Hourly counts of many edges of one label, column by column: what a loader with hundreds
    of thousands of mostly new edges per batch (VPC flows) hands over instead of an EdgeDelta
    per edge. Row i counts `counts[c][i]` on the edge (label, (src_label, src[i]) →
    (dst_label, dst[i]), qualifier[i]) in `hour[i]`, observed from first[i] to last[i]. An edge
    may have rows in several hours, and the same (edge, hour) twice: they add up."""

    label: str
    src_label: str
    dst_label: str
    src: list[str]
    dst: list[str]
    qualifier: list[str]
    hour: list[int]
    first: list[int]
    last: list[int]
    counts: tuple[list[int], ...]  # one column per counter of the label, in EdgeType order

    def __len__(self) -> int:
        return len(self.hour)

    def fold_into(self, edges: dict[EdgeKey, EdgeDelta]) -> None:
        """Add the rows to `edges` (keyed like DeltaBuffer's) as EdgeDeltas: for stores that
        take edges one by one."""
        src_ref = {k: VertexRef(self.src_label, k) for k in set(self.src)}
        dst_ref = {k: VertexRef(self.dst_label, k) for k in set(self.dst)}
        columns = zip(
            self.src, self.dst, self.qualifier, self.hour, self.first, self.last, strict=True
        )
        for (s, d, q, hour, first, last), counts in zip(
            columns, zip(*self.counts, strict=True), strict=True
        ):
            key = (self.label, src_ref[s], dst_ref[d], q)
            ed = edges.get(key)
            if ed is None:
                ed = edges[key] = EdgeDelta(self.label, key[1], key[2], q, first, last)
            ed.add(hour, first, last, counts)

    def validate(self, keys: dict[str, set[str]]) -> None:
        """What validate_batch checks of an EdgeDelta, for every row at once; `keys`: the keys
        of the batch's vertices by label, where every endpoint must be."""
        et = EDGE_TYPES.get(self.label)
        if et is None:
            raise ValueError(f"unknown edge label {self.label!r}")
        if self.src_label not in et.src or self.dst_label not in et.dst:
            raise ValueError(f"{self.label} cannot join {self.src_label} to {self.dst_label}")
        if et.qualifier_doc is None and any(self.qualifier):
            raise ValueError(f"{self.label} edges take no qualifier")
        if len(self.counts) != len(et.counters):
            raise ValueError(f"{self.label} rows need {len(et.counters)} counter columns")
        n = len(self.hour)
        columns: tuple[Sized, ...] = (
            self.src, self.dst, self.qualifier, self.first, self.last, *self.counts
        )  # fmt: skip
        if any(len(c) != n for c in columns):
            raise ValueError(f"{self.label} rows: columns of different lengths")
        for label, ends in ((self.src_label, self.src), (self.dst_label, self.dst)):
            missing = set(ends) - keys.get(label, set())
            if missing:
                raise ValueError(
                    f"{self.label} edge endpoint {label} {min(missing)!r} is not in the batch"
                )
        times = [np.array(c) for c in (self.hour, self.first, self.last)]
        if all(t.dtype.kind == "i" for t in times):  # (one pass per column: 580k rows a batch)
            hours, firsts, lasts = times
            bad = np.flatnonzero((hours % HOUR != 0) | (hours > firsts) | (firsts > lasts))
            rows: Iterable[int] = bad[:1].tolist()
        else:  # anything but int64 (huge or not integers): row by row
            rows = range(n)
        for i in rows:
            hour, first, last = self.hour[i], self.first[i], self.last[i]
            if hour % HOUR or not hour <= first <= last:
                raise ValueError(f"bad hourly row for {self.label}: {hour} {first} {last}")
