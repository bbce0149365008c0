"""Counted deltas: what a loader hands to a store in one atomic write.

Loaders never write one row per event. They add observations to a `DeltaBuffer`, which keeps one
entry per vertex and per (edge, hour) with summed counters and first/last observed, and turn it
into a `WriteBatch` together with the ledger entries of the source objects it came from. A store
applies a batch in one transaction, so a source object's graph writes and its ledger entry commit
or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple

from graph.membership import VolumeDelta
from graph.model import (
    EDGE_TYPES,
    HOUR,
    VERTEX_TYPES,
    Merge,
    Scalar,
    VertexRef,
    VertexType,
)

if TYPE_CHECKING:
    from graph.edge_rows import EdgeRows

LedgerStatus = Literal["loaded", "partial", "failed"]


@dataclass(slots=True)
class VertexDelta:
    label: str
    key: str
    first: int
    last: int
    props: dict[str, Scalar] = field(default_factory=dict)

    @property
    def ref(self) -> VertexRef:
        return VertexRef(self.label, self.key)


@dataclass(slots=True)
class EdgeDelta:
    label: str
    src: VertexRef
    dst: VertexRef
    qualifier: str
    first: int
    last: int
    # hour (epoch seconds, multiple of 3600) -> counter deltas in EdgeType.counters order
    hours: dict[int, list[int]] = field(default_factory=dict)

    def add(self, hour: int, first: int, last: int, counts: Iterable[int]) -> bool:
        """Widen first/last observed and add `counts` into the hour's row (a new row holds a
        copy of them); True when the row is new. (DeltaBuffer.count and count_hours, the
        loaders' innermost loops, write this out instead of calling it.)"""
        if first < self.first:
            self.first = first
        if last > self.last:
            self.last = last
        row = self.hours.get(hour)
        if row is None:
            self.hours[hour] = [*counts]
            return True
        for i, c in enumerate(counts):
            row[i] += c
        return False


class LedgerEntry(NamedTuple):
    """One source object (file, archive member or S3 object) and what became of it.

    (Immutable as a named tuple rather than a frozen dataclass: a load builds one per object,
    most objects hold a few events, and a frozen dataclass takes four times as long to build.)"""

    source: str
    version: str  # S3 ETag, or sha256 of a local file's bytes
    size: int
    status: LedgerStatus
    kind: str  # source type, e.g. "cloudtrail"
    records: int = 0
    loaded: int = 0
    skipped: int = 0
    errors: tuple[str, ...] = ()
    loaded_at: int = 0
    hint: str = ""  # cheap change detector (local files: size and mtime) for skipping unread


@dataclass(slots=True)
class WriteBatch:
    graph: str
    vertices: list[VertexDelta]
    edges: list[EdgeDelta]
    ledger: list[LedgerEntry]
    # source bytes per member account and day, committed with the ledger (exactly once)
    volume: list[VolumeDelta] = field(default_factory=list)
    rows: list[EdgeRows] = field(default_factory=list)

    def __len__(self) -> int:
        hours = sum(len(e.hours) for e in self.edges) + sum(len(r) for r in self.rows)
        return len(self.vertices) + hours

    def with_rows_folded(self) -> WriteBatch:
        """The same batch with every EdgeRows folded into its edges, each edge once."""
        if not self.rows:
            return self
        folded: dict[tuple[str, VertexRef, VertexRef, str], EdgeDelta] = {}
        for rows in self.rows:
            rows.fold_into(folded)
        # the batch's own EdgeDeltas are left as they are (a write may be retried): an edge
        # also among the rows is added into the folded copy instead
        edges: list[EdgeDelta] = []
        for e in self.edges:
            mine = folded.get((e.label, e.src, e.dst, e.qualifier))
            if mine is None:
                edges.append(e)
                continue
            for hour, counts in e.hours.items():
                mine.add(hour, e.first, e.last, counts)
        edges.extend(folded.values())
        return WriteBatch(self.graph, self.vertices, edges, self.ledger, self.volume)


def merge_prop(merge: Merge, old: Scalar, new: Scalar, order: int = 0) -> Scalar:
    """Combine a stored property value with a new one; None never overwrites a value.

    `order` (see `version_order`) says whether the new write is newer (> 0), older (< 0) or of
    the same version (0) as the stored values; only NEWEST properties use it."""
    if new is None:
        return old
    if old is None:
        return new
    if merge is Merge.FIRST:
        return old
    if merge is Merge.LAST:
        return new
    if merge is Merge.MIN:
        return new if new < old else old  # type: ignore[operator]
    if merge is Merge.NEWEST and order:
        return new if order > 0 else old
    return new if new > old else old  # type: ignore[operator]


def repeats(old: dict[str, Scalar], new: dict[str, Scalar]) -> bool:
    """Whether every value of `new` is already in `old`: merging it then changes nothing (every
    merge keeps a value it is given again), and most writes repeat what is known."""
    return all(value is None or old.get(name) == value for name, value in new.items())


def version_order(vt: VertexType, old: dict[str, Scalar], new: dict[str, Scalar]) -> int:
    """How a write's version compares with the stored one (see Merge.NEWEST): a write without
    a version counts as older, so it only fills unknown values."""
    if vt.version is None:
        return 0
    theirs, mine = new.get(vt.version), old.get(vt.version)
    if theirs is None:
        return -1
    if mine is None:
        return 1
    return (theirs > mine) - (theirs < mine)  # type: ignore[operator]


class DeltaBuffer:
    """Accumulates vertex and hourly edge observations; bounded by the caller's flush policy."""

    __slots__ = ("_edges", "_rows", "_vertices", "hour_rows")

    def __init__(self) -> None:
        self._vertices: dict[VertexRef, VertexDelta] = {}
        self._edges: dict[tuple[str, VertexRef, VertexRef, str], EdgeDelta] = {}
        self._rows: list[EdgeRows] = []
        self.hour_rows = 0

    def add_rows(self, rows: EdgeRows) -> None:
        """Hourly edge counts column by column (see EdgeRows); their endpoints' observations
        are the caller's to record."""
        if len(rows):
            self._rows.append(rows)
            self.hour_rows += len(rows)

    def __len__(self) -> int:
        return len(self._vertices) + self.hour_rows

    def vertex(
        self,
        ref: VertexRef,
        first: int,
        last: int | None = None,
        props: dict[str, Scalar] | None = None,
    ) -> None:
        last = first if last is None else last
        vd = self._vertices.get(ref)
        if vd is None:
            clean: dict[str, Scalar] = (
                {k: v for k, v in props.items() if v is not None} if props else {}
            )
            self._vertices[ref] = VertexDelta(ref.label, ref.key, first, last, clean)
            return
        if first < vd.first:
            vd.first = first
        if last > vd.last:
            vd.last = last
        if props:
            current = vd.props
            if repeats(current, props):
                return
            vt = VERTEX_TYPES[ref.label]
            order = version_order(vt, current, props)  # before the version itself is merged
            for name, value in props.items():
                if value is not None:
                    current[name] = merge_prop(vt.merge_of(name), current.get(name), value, order)

    def edge(
        self,
        label: str,
        src: VertexRef,
        dst: VertexRef,
        first: int,
        counts: Iterable[int],
        qualifier: str = "",
        last: int | None = None,
    ) -> None:
        """Add counts observed between `first` and `last` (same hour: `first`'s hour is used).

        Both endpoints count as observed over the same span.
        """
        last = first if last is None else last
        self.vertex(src, first, last)
        self.vertex(dst, first, last)
        self.count(label, src, dst, qualifier, first, last, counts)

    def count(
        self,
        label: str,
        src: VertexRef,
        dst: VertexRef,
        qualifier: str,
        first: int,
        last: int,
        counts: Iterable[int],
    ) -> None:
        """`edge` for callers that record the endpoints' observations themselves (hot path)."""
        key = (label, src, dst, qualifier)
        ed = self._edges.get(key)
        hour = first - first % HOUR
        if ed is None:
            ed = self._edges[key] = EdgeDelta(label, src, dst, qualifier, first, last)
        else:
            if first < ed.first:
                ed.first = first
            if last > ed.last:
                ed.last = last
        row = ed.hours.get(hour)
        if row is None:
            ed.hours[hour] = list(counts)
            self.hour_rows += 1
        else:
            for i, c in enumerate(counts):
                row[i] += c

    def add_counted(
        self,
        label: str,
        src: VertexRef,
        dst: VertexRef,
        qualifier: str,
        first: int,
        last: int,
        hours: dict[int, list[int]],
    ) -> None:
        """`count_hours` from one source, taking `hours` over (the caller gives it up): for
        edges folded elsewhere (the native core), most of them new to the buffer."""
        key = (label, src, dst, qualifier)
        if key in self._edges:
            self.count_hours(label, (src,), dst, qualifier, first, last, hours)
            return
        self._edges[key] = EdgeDelta(label, src, dst, qualifier, first, last, hours)
        self.hour_rows += len(hours)

    def count_hours(
        self,
        label: str,
        sources: tuple[VertexRef, ...],
        dst: VertexRef,
        qualifier: str,
        first: int,
        last: int,
        hours: dict[int, list[int]],
    ) -> None:
        """`count` of two-counter observations (hour -> [count 0, count 1]) made between `first`
        and `last`, from each of `sources` (a principal and its rollups). The loaders' innermost
        loop: one edge look-up per source for all the hours of a batch, and no per-edge calls;
        the rows are copied, never shared with the caller or between edges."""
        edges = self._edges
        for src in sources:
            key = (label, src, dst, qualifier)
            ed = edges.get(key)
            if ed is None:
                edges[key] = EdgeDelta(
                    label, src, dst, qualifier, first, last, {h: [*r] for h, r in hours.items()}
                )
                self.hour_rows += len(hours)
                continue
            if first < ed.first:
                ed.first = first
            if last > ed.last:
                ed.last = last
            counted = ed.hours
            # (mostly: the rollup edge of another principal, seen in other hours)
            if counted.keys().isdisjoint(hours):
                counted.update({h: [*r] for h, r in hours.items()})
                self.hour_rows += len(hours)
                continue
            for h, r in hours.items():
                row = counted.get(h)
                if row is None:
                    counted[h] = [*r]
                    self.hour_rows += 1
                else:
                    row[0] += r[0]
                    row[1] += r[1]

    def copy(self) -> DeltaBuffer:
        """An independent copy (a loader writing the same records into several graphs)."""
        out = DeltaBuffer()
        out._vertices = {
            ref: VertexDelta(vd.label, vd.key, vd.first, vd.last, dict(vd.props))
            for ref, vd in self._vertices.items()
        }
        out._edges = {
            key: EdgeDelta(
                ed.label,
                ed.src,
                ed.dst,
                ed.qualifier,
                ed.first,
                ed.last,
                {hour: list(counts) for hour, counts in ed.hours.items()},
            )
            for key, ed in self._edges.items()
        }
        out._rows = list(self._rows)  # (never changed once added: shared)
        out.hour_rows = self.hour_rows
        return out

    def absorb(self, other: DeltaBuffer) -> None:
        """Add everything `other` holds (which is left empty)."""
        for ref, vd in other._vertices.items():
            self.vertex(ref, vd.first, vd.last, vd.props)
        for key, ed in other._edges.items():
            mine = self._edges.get(key)
            if mine is None:
                self._edges[key] = ed
                self.hour_rows += len(ed.hours)
                continue
            for hour, counts in ed.hours.items():
                self.hour_rows += mine.add(hour, ed.first, ed.last, counts)
        self._rows.extend(other._rows)
        self.hour_rows += sum(len(r) for r in other._rows)
        other._vertices, other._edges, other._rows, other.hour_rows = {}, {}, [], 0

    def take(
        self, graph: str, ledger: list[LedgerEntry], volume: list[VolumeDelta] | None = None
    ) -> WriteBatch:
        """Return everything accumulated as a batch and start empty again."""
        batch = WriteBatch(
            graph,
            list(self._vertices.values()),
            list(self._edges.values()),
            ledger,
            volume or [],
            self._rows,
        )
        self._vertices = {}
        self._edges = {}
        self._rows = []
        self.hour_rows = 0
        return batch


def validate_batch(batch: WriteBatch) -> None:
    """Reject batches that break the data model before they reach a store."""
    for vd in batch.vertices:
        vt = VERTEX_TYPES.get(vd.label)
        if vt is None:
            raise ValueError(f"unknown vertex label {vd.label!r}")
        if not vd.key:
            raise ValueError(f"empty key for {vd.label} vertex")
        unknown = set(vd.props) - set(vt.prop_names)
        if unknown:
            raise ValueError(f"{vd.label} has no properties {sorted(unknown)}")
    checked: set[tuple[str, str, str, bool]] = set()
    for ed in batch.edges:
        shape = (ed.label, ed.src.label, ed.dst.label, bool(ed.qualifier))
        if shape not in checked:
            et = EDGE_TYPES.get(ed.label)
            if et is None:
                raise ValueError(f"unknown edge label {ed.label!r}")
            if ed.src.label not in et.src or ed.dst.label not in et.dst:
                raise ValueError(f"{ed.label} cannot join {ed.src.label} to {ed.dst.label}")
            if et.qualifier_doc is None and ed.qualifier:
                raise ValueError(f"{ed.label} edges take no qualifier")
            checked.add(shape)
        width = len(EDGE_TYPES[ed.label].counters)
        for hour, counts in ed.hours.items():
            if hour % HOUR or len(counts) != width:
                raise ValueError(f"bad hourly row for {ed.label}: {hour} {counts}")
    if batch.rows:
        # endpoints among the batch's vertices (every store maps them to its ids from there)
        keys: dict[str, set[str]] = {}
        for vd in batch.vertices:
            keys.setdefault(vd.label, set()).add(vd.key)
        for rows in batch.rows:
            rows.validate(keys)
