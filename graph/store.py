"""The store contract: the few operations every backend implements, and nothing more.

Writes are counted deltas applied atomically together with ledger entries (see graph.batch).
Reads are narrow and batched so that a profile needs a bounded number of round trips, and each one
maps onto a single Gremlin traversal as well as onto SQL:

- `vertices`: entity lookup by (label, key), many at once;
- `search`: by key or any search term (name, ARN, ...): prefix match, or `*` wildcards; exact case;
- `neighbours`: the edges of one label around many vertices, with counters summed over an hour
  range (or, cheaper, without them) and each edge's first/last observed (what new-behavior
  queries need);
- `series`: hourly counters of one relationship summed over neighbours, for many vertices;
- `series_by_other`: the same per vertex at the other end, as dense arrays (a principal's calls
  of every API over the 45-day baseline window in one read: tens of thousands of hourly rows,
  which as Python tuples would cost more than reading them).

Membership (graph.membership) is kept beside the graph: member records, ingested volume per
account and day (written inside `write`, with the ledger), the organization's administrators,
graph properties (tags, packages), and `expire` for the retention job.

Time ranges are half-open [start, end) in UTC epoch seconds; hours are hour starts.
The embedded SQLite store is the reference implementation and the test double; the contract suite
in tests/contract runs unchanged against every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from graph.batch import LedgerEntry, WriteBatch
from graph.membership import Expired, Member, OrgAdmin, VolumeUsage
from graph.model import COUNTER_MAX, HOUR, Scalar, VertexRef


class Direction(Enum):
    OUT = "out"  # edges whose source is the given vertex
    IN = "in"  # edges whose target is the given vertex


@dataclass(frozen=True, slots=True)
class GraphInfo:
    arn: str
    admin_account: str
    created: int
    # A graph created by `gumshoe load` takes every account it sees (organization auto-enable).
    takes_all_accounts: bool = True
    props: Mapping[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]


@dataclass(frozen=True, slots=True)
class Vertex:
    label: str
    key: str
    first: int
    last: int
    props: Mapping[str, Scalar]

    @property
    def ref(self) -> VertexRef:
        return VertexRef(self.label, self.key)


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One edge seen from one of its ends."""

    ref: VertexRef  # the vertex at the other end
    qualifier: str
    first: int  # first/last observed of the edge, over all time
    last: int
    counts: tuple[int, ...]  # counters summed over the requested range (all time without one)


@dataclass(frozen=True, slots=True)
class SearchPage:
    vertices: list[Vertex]
    next_after: str | None  # pass as `after` for the next page; None on the last page


# Dense hourly counters: shape (counters of the edge label, hours); column i counts the hour
# starting at `start + i * HOUR` of the read's range.
HourCounts = npt.NDArray[np.int64]


def hour_columns(start: int, end: int) -> int:
    """The number of columns of an HourCounts array over [start, end) (hour-aligned start)."""
    if start % HOUR:
        raise ValueError(f"range start {start} is not an hour start")
    return -(-(end - start) // HOUR)


def sum_counts(counts: HourCounts, axis: int) -> HourCounts:
    """`counts.sum(axis)`, saturating at COUNTER_MAX as the writer does: an int64 sum of
    saturated counters would wrap, so when it could, the exact sum (Python ints) is clamped."""
    n = counts.shape[axis]
    if not counts.size or int(counts.max()) <= COUNTER_MAX // n:
        return np.asarray(counts.sum(axis=axis), dtype=np.int64)
    exact = counts.astype(object).sum(axis=axis)
    return np.asarray(np.minimum(exact, COUNTER_MAX), dtype=np.int64)


class StoreError(Exception):
    """Base class of store failures (hierarchy: StoreUnavailable, LedgerConflict, NotFound)."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached; nothing was written. Callers may retry."""


class LedgerConflict(StoreError):
    """A batch names source objects another load already committed; nothing was written."""

    def __init__(self, sources: Sequence[str]) -> None:
        super().__init__(f"already loaded: {', '.join(sources)}")
        self.sources = list(sources)


class GraphNotFound(StoreError):
    pass


class GraphReads(Protocol):
    """The read half of the store contract: what profiles, baselines and investigations read
    (the API's per-request CachedReads implements it too)."""

    def list_graphs(self) -> list[GraphInfo]:
        """Every graph in the store, ordered by ARN."""
        ...

    def vertices(self, graph: str, refs: Sequence[VertexRef]) -> dict[VertexRef, Vertex]: ...

    def search(
        self, graph: str, label: str, query: str, *, limit: int, after: str | None = None
    ) -> SearchPage: ...

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
        """Edges of `edge_label` around each ref. With a range, only edges with counts in it,
        counts summed over it. `other_labels`/`others` restrict the vertex at the other end.
        `counts=False`: the same edges, without their counts (each `counts` is `()`), for
        callers that need only which edges there are and their first/last observed; a backend
        may then skip the summing (the embedded store checks one hour per edge instead)."""
        ...

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
        """Hourly counters summed over the matching edges of each ref, sorted by hour;
        hours without counts are absent."""
        ...

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
        """Hourly counters of each ref's edges of `edge_label` over [start, end) (start an hour
        start), per vertex at the other end and summed over qualifiers, as (counters, hours)
        arrays (`hour_columns`). Only refs and other ends with hourly counts in the range."""
        ...


class GraphStore(GraphReads, Protocol):
    uri: str
    # Edge-hour rows that one write() is best given, for writers free to choose (a loader's
    # batches of VPC flows, which stay compact arrays until written). Larger batches write each
    # flow fewer times; the bound is what the backend holds well in one transaction (JanusGraph
    # keeps a whole transaction in the server's heap).
    batch_rows_hint: int

    def close(self) -> None: ...

    # -- graphs ------------------------------------------------------------------------------
    def create_graph(self, info: GraphInfo) -> GraphInfo:
        """Create the graph, or return the existing one with the same ARN."""
        ...

    def delete_graph(self, arn: str) -> None:
        """Expunge the graph: every vertex, edge, hourly count, ledger entry, member record,
        volume row and the organization administrator record that names it."""
        ...

    def update_graph(self, arn: str, props: Mapping[str, Any]) -> GraphInfo:
        """Replace the graph's properties (tags, data source packages, organization settings)."""
        ...

    # -- membership (graph.membership) -------------------------------------------------------
    def put_members(self, graph: str, members: Sequence[Member]) -> None:
        """Create or replace member records (keyed by graph and account)."""
        ...

    def members(self, graph: str, accounts: Sequence[str] | None = None) -> list[Member]:
        """The graph's member records (only those of `accounts` if given), ordered by account."""
        ...

    def memberships(self, account: str) -> list[Member]:
        """Every graph's record of one account, ordered by graph ARN."""
        ...

    def delete_members(self, graph: str, accounts: Sequence[str]) -> None: ...

    def volume(
        self, graph: str, *, since: int = 0, accounts: Sequence[str] | None = None
    ) -> list[VolumeUsage]:
        """Volume rows of days starting at or after `since`, ordered by (account, package, day).
        Rows are added to by `write` (WriteBatch.volume)."""
        ...

    def put_org_admin(self, admin: OrgAdmin) -> None:
        """Set the organization's administrator of `admin.region` (one per region)."""
        ...

    def org_admins(self) -> list[OrgAdmin]:
        """Every region's organization administrator, ordered by region."""
        ...

    def delete_org_admin(self, region: str) -> None: ...

    def newest(self, graph: str) -> int | None:
        """The latest last-observed time of any vertex of the graph (None when it is empty)."""
        ...

    def expire(self, graph: str, before: int) -> Expired:
        """Retention: remove hourly counts of hours before `before` (an hour start), edges left
        without any, vertices last observed before it that no edge touches any more, and volume
        rows of days before it. First/last observed of what remains are kept."""
        ...

    # -- writes and the ledger ---------------------------------------------------------------
    def write(self, batch: WriteBatch) -> None:
        """Apply a batch atomically. Raises LedgerConflict (writing nothing) when one of its
        ledger entries names a source version already recorded as loaded or partial."""
        ...

    def ledger(self, graph: str, sources: Sequence[str]) -> dict[str, list[LedgerEntry]]:
        """Ledger entries for the given source URIs (all versions)."""
        ...

    def export(self, graph: str) -> Iterator[dict[str, Any]]:
        """Every vertex then every edge (with hourly counts), in a deterministic order."""
        ...


def in_range(start: int | None, end: int | None) -> None:
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"empty time range [{start}, {end})")
