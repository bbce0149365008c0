"""The only writer: source objects → staged deltas → batched, exactly-once writes.

Each source object is read into its own staging area; only a fully read object is merged into the
batch (so a corrupt gzip or truncated file contributes nothing). A batch holds many objects and is
written in one store transaction together with their ledger entries, so after a crash (kill -9)
at any point a rerun skips exactly the committed objects and loads the rest. Transient store
failures are retried with backoff; a retry that finds its own objects already in the ledger knows
the earlier attempt committed.

Membership (loaders.graphs): when a load targets graphs made by CreateGraph, each record is staged
in the part of the batch for its account's target graphs, and each graph gets its own write of
its parts, with every object's ledger entry (so a rerun after a crash between two graphs' writes
loads the object into the graphs that lack it only) and the bytes ingested per account and day.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from graph.batch import DeltaBuffer, LedgerEntry, WriteBatch
from graph.membership import DETECTIVE_CORE, VolumeDelta, day_of
from graph.store import GraphStore, LedgerConflict, StoreUnavailable
from loaders import DEFAULT_BATCH_EVENTS
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.collector import collect_young, collector_paused
from loaders.geo import GeoIndex, default_index
from loaders.graphs import NOWHERE, GraphTarget, RoutedStaging
from loaders.objects import ObjectResult, read_object
from loaders.report import FileFailure, LoadReport
from loaders.sources import SourceError, SourceObject, iter_objects

Progress = Callable[[SourceObject, LoadReport], None]
LEDGER_CHUNK = 256
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    graph: str | None = None
    admin_account: str | None = None
    source: str | None = None  # force a source type instead of detecting it
    flow_format: str | None = None  # VPC flow fields of files without a header line
    batch_events: int = DEFAULT_BATCH_EVENTS
    batch_rows: int = 60_000  # staged tuples: each expands into ~10 edge-hour rows
    # staged VPC flows, each written as one to three edge-hour rows but held as compact arrays
    # until then, so bounded by what suits the store (None: its batch_rows_hint), not memory
    batch_flows: int | None = None
    retries: int = 8
    retry_base: float = 0.5


@dataclass(slots=True)
class _Batch:
    deltas: CloudTrailDeltas  # routed loads: a RoutedStaging in front of `parts`
    objects: list[SourceObject] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    # routed loads: staged deltas per set of target graphs, and the graphs each entry goes to
    parts: dict[frozenset[str], CloudTrailDeltas] = field(default_factory=dict)
    holders: list[frozenset[str]] = field(default_factory=list)
    # (graph, account) -> [ingested, skipped] bytes; graph "" is the single target's
    volume: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    @property
    def events(self) -> int:
        events = self.deltas.events
        for p in self.parts.values():
            events += p.events
        return events

    def fill(self, rows: int, flows: int) -> float:
        """How full the batch is (1: write it): staged tuples and other deltas against `rows`,
        staged VPC flows against `flows`. (Asked after every file, so plain loops.)"""
        d = self.deltas
        staged, staged_flows = d.staged_tuples(), d.flows.rows
        for p in self.parts.values():
            staged += p.staged_tuples()
            staged_flows += p.flows.rows
        return staged / rows + staged_flows / flows

    def add_volume(self, graph: str, account: str, ingested: int, skipped: int = 0) -> None:
        acc = self.volume.setdefault((graph, account), [0, 0])
        acc[0] += ingested
        acc[1] += skipped


class Loader:
    def __init__(
        self,
        store: GraphStore,
        options: LoadOptions | None = None,
        *,
        geo: GeoIndex | None = None,
        s3: Any = None,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.options = options or LoadOptions()
        self.geo = geo or default_index()
        self.s3 = s3
        self.progress = progress
        self.clock = clock
        self.target = self._retry(
            lambda: GraphTarget(store, self.options.graph, self.options.admin_account)
        )
        self.principals = Principals()
        # the load's graphs (fixed once the target is known; a graph ensure() creates is not one)
        self.universe = frozenset(g.arn for g in self.target.graphs)
        self.batch_flows = self.options.batch_flows or store.batch_rows_hint
        self.report = LoadReport(store=store.uri)

    def load(self, inputs: Sequence[str]) -> LoadReport:
        with collector_paused():
            return self._load(inputs)

    def _load(self, inputs: Sequence[str]) -> LoadReport:
        started = time.perf_counter()
        for item in inputs:  # fail before writing anything, not after the first inputs
            if not item.startswith("s3://") and not Path(item).exists():
                raise SourceError(f"{item}: no such file or directory")
        batch = self._new_batch()
        universe = self.universe
        for chunk in _chunked(iter_objects(inputs, s3=self.s3), LEDGER_CHUNK):
            held = self._already_loaded(chunk)
            for obj in chunk:
                self.report.files += 1
                holders = held.get(obj.uri, NOWHERE)
                if holders and (not self.target.routed or holders >= universe):
                    self.report.already_loaded += 1
                else:
                    self._add(batch, obj, holders)
                    if batch.events >= self.options.batch_events or (
                        batch.fill(self.options.batch_rows, self.batch_flows) >= 1
                    ):
                        self._flush(batch)
                        batch = self._new_batch()
                        collect_young()
                if self.progress:
                    self.progress(obj, self.report)
        self._flush(batch)
        self.report.graph = self.target.arn
        self.report.graphs = [g.arn for g in self.target.graphs] or (
            [self.target.arn] if self.target.arn else []
        )
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run an idempotent store call, retrying with exponential backoff while the store is
        unreachable (a restarting server); the last failure propagates."""
        for attempt in range(self.options.retries):
            try:
                return fn()
            except StoreUnavailable:
                time.sleep(self.options.retry_base * 2**attempt)
        return fn()

    def _new_batch(self) -> _Batch:
        router = self.target.router
        if router is None:
            return _Batch(CloudTrailDeltas(self.principals))
        parts: dict[frozenset[str], CloudTrailDeltas] = {}
        return _Batch(RoutedStaging(self.principals, router, parts), parts=parts)

    def _already_loaded(self, chunk: list[SourceObject]) -> dict[str, frozenset[str]]:
        """The graphs whose ledger holds each URI of the chunk, unchanged, as loaded (one store
        round trip per graph)."""
        arns = [g.arn for g in self.target.graphs] if self.target.routed else [self.target.arn]
        held: dict[str, set[str]] = {}
        for arn in arns:
            if arn is None:
                continue
            uris = [o.uri for o in chunk]
            entries = self._retry(functools.partial(self.store.ledger, arn, uris))
            for o in chunk:
                if any(
                    e.status != "failed" and o.hint in (e.version, e.hint)
                    for e in entries.get(o.uri, ())
                ):
                    held.setdefault(o.uri, set()).add(arn)
        return {uri: frozenset(graphs) for uri, graphs in held.items()}

    def _add(self, batch: _Batch, obj: SourceObject, holders: frozenset[str] = NOWHERE) -> None:
        if isinstance(batch.deltas, RoutedStaging):
            result = self._stage_routed(batch, obj, holders, count=True)
        else:
            result = read_object(obj, batch.deltas, self.options.source, self.options.flow_format)
            self._count(obj, result)
            if result.loaded:
                # an object already committed under another hint (touched, copied back) is
                # caught by the ledger check inside the store's write transaction: see _flush
                if self.target.arn is None:  # the first loaded object names the new graph
                    self._retry(
                        lambda: self.target.ensure(result.first_account, result.first_region)
                    )
                if result.first_account:
                    # a graph taking every account is not routed per record: the object's
                    # bytes count for its first record's account (one account per log file)
                    batch.add_volume("", result.first_account, result.size)
        if result.status is None:  # not a log file: nothing to record
            return
        batch.objects.append(obj)
        batch.holders.append(self.universe - holders)
        batch.ledger.append(
            LedgerEntry(
                obj.uri,
                result.version,
                result.size,
                result.status,
                result.kind or "unknown",
                result.records,
                result.loaded,
                result.skipped,
                tuple(([result.failure] if result.failure else []) + result.errors[:20]),
                int(self.clock()),
                obj.hint,
            )
        )

    def _count(self, obj: SourceObject, result: ObjectResult) -> None:
        r = self.report
        r.bytes_read += result.size
        r.records += result.records
        r.loaded += result.loaded
        r.skipped += result.skipped
        for message in result.errors:
            r.record_error(obj.uri, *message.split(": ", 1))
        if result.failure is not None:
            r.failed.append(FileFailure(obj.uri, result.failure))
        elif result.status == "failed":
            reason = f"every record was rejected ({len(result.errors)} errors)"
            r.failed.append(FileFailure(obj.uri, reason))
        elif result.skip_reason is not None:
            r.skip_file(result.skip_reason)
        elif result.status == "partial":
            r.partial_files += 1
        elif result.status == "loaded":
            r.loaded_files += 1

    def _stage_routed(
        self, batch: _Batch, obj: SourceObject, holders: frozenset[str], *, count: bool
    ) -> ObjectResult:
        """Read `obj` into the parts of its records' target graphs (not those in `holders`);
        count what became of it and the bytes each account contributed."""
        staging = batch.deltas
        assert isinstance(staging, RoutedStaging)
        staging.start_object(holders)
        result = read_object(obj, staging, self.options.source, self.options.flow_format)
        per_account = dict(staging.per_account)
        dropped = dict(staging.dropped)
        if not per_account and result.loaded and result.failure is None:
            # loaded records that no stager routed (every source routes per record, see
            # loaders.graphs): the object goes whole to its first account's graphs
            per_account = {result.first_account: result.loaded}
            if not staging.route_rest(result.first_account):
                dropped = dict(per_account)
                result.skipped += result.loaded
                result.loaded = 0
        else:
            staging.route_rest(result.first_account)
        if count:
            self._count(obj, result)
            for account, n in dropped.items():
                key = account or "unknown"
                self.report.skipped_accounts[key] = self.report.skipped_accounts.get(key, 0) + n
        router = staging.router
        total = sum(per_account.values())
        for account, n in per_account.items():
            if account is None or not total:
                continue
            share = result.size * n // total
            targets = router.targets(account) - holders
            for g in targets:
                batch.add_volume(g, account, share)
                if count:
                    self.report.graph_records[g] = self.report.graph_records.get(g, 0) + n
            for g in router.pending_graphs(account) - holders - targets:
                batch.add_volume(g, account, 0, share)
        return result

    def _volume(self, batch: _Batch, graph: str) -> list[VolumeDelta]:
        now = int(self.clock())
        return [
            VolumeDelta(account, DETECTIVE_CORE, day_of(now), ingested, skipped, now)
            for (g, account), (ingested, skipped) in sorted(batch.volume.items())
            if g == graph
        ]

    def _flush(self, batch: _Batch) -> None:
        if not batch.ledger:
            return
        if isinstance(batch.deltas, RoutedStaging):
            self._flush_routed(batch)
            return
        arn = self.target.arn
        if arn is None:
            # nothing loaded yet and no graph to record failures in
            arn = self._retry(self.target.ensure_for_failures)
            if arn is None:
                return
        out = DeltaBuffer()
        batch.deltas.expand(out, self.geo)
        self._write(out.take(arn, batch.ledger, self._volume(batch, "")), batch, None)

    def _flush_routed(self, batch: _Batch) -> None:
        """One write per target graph: its parts (copied where shared), its ledger entries."""
        expanded: list[tuple[frozenset[str], DeltaBuffer]] = []
        for targets, part in batch.parts.items():
            buf = DeltaBuffer()
            part.expand(buf, self.geo)
            expanded.append((targets, buf))
        batch.parts.clear()
        for g in self.target.graphs:
            entries = [e for e, gs in zip(batch.ledger, batch.holders, strict=True) if g.arn in gs]
            if not entries:
                continue
            out = DeltaBuffer()
            for targets, buf in expanded:
                if g.arn in targets:
                    out.absorb(buf if len(targets) == 1 else buf.copy())
            self._write(out.take(g.arn, entries, self._volume(batch, g.arn)), batch, g.arn)

    def _write(self, write: WriteBatch, batch: _Batch, graph: str | None) -> None:
        for attempt in range(self.options.retries + 1):
            try:
                self.store.write(write)
                return
            except StoreUnavailable:
                if attempt == self.options.retries:
                    raise
                time.sleep(self.options.retry_base * 2**attempt)
            except LedgerConflict as conflict:
                mine = {e.source for e in write.ledger if e.status != "failed"}
                if attempt and mine <= set(conflict.sources):
                    return  # the attempt that lost its connection had committed
                self._redo_without(batch, set(conflict.sources), graph)
                return

    def _redo_without(self, batch: _Batch, loaded: set[str], graph: str | None) -> None:
        """Another loader committed some of these objects first: rebuild the batch without them
        (for one graph of a routed load)."""
        r = self.report
        for e, gs in zip(batch.ledger, batch.holders, strict=False):
            if e.source in loaded and (graph is None or gs == {graph}):
                # counted when read; it was not ours to load after all
                r.already_loaded += 1
                r.records -= e.records
                r.loaded -= e.loaded
                r.skipped -= e.skipped
                r.loaded_files -= e.status == "loaded"
                r.partial_files -= e.status == "partial"
        redo = self._new_batch()
        if graph is not None:
            others = self.universe - {graph}
            for obj, e, gs in zip(batch.objects, batch.ledger, batch.holders, strict=True):
                if obj.uri not in loaded and graph in gs:
                    self._stage_routed(redo, obj, others, count=False)
                    redo.objects.append(obj)
                    redo.ledger.append(e)
                    redo.holders.append(frozenset({graph}))
            self._flush(redo)
            return
        for obj in batch.objects:
            if obj.uri not in loaded:
                res = read_object(obj, redo.deltas, self.options.source, self.options.flow_format)
                if res.loaded and res.first_account:
                    redo.add_volume("", res.first_account, res.size)
                redo.objects.append(obj)
                redo.ledger.extend(e for e in batch.ledger if e.source == obj.uri)
        self._flush(redo)


def _chunked(items: Iterable[SourceObject], size: int) -> Iterator[list[SourceObject]]:
    chunk: list[SourceObject] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load(
    inputs: Sequence[str],
    store: GraphStore,
    options: LoadOptions | None = None,
    **kwargs: Any,
) -> LoadReport:
    return Loader(store, options, **kwargs).load(inputs)
