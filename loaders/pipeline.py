"""The only writer: source objects → staged deltas → batched, exactly-once writes.

Each source object is read into its own staging area; only a fully read object is merged into the
batch (so a corrupt gzip or truncated file contributes nothing). A batch holds many objects and is
written in one store transaction together with their ledger entries, so after a crash (kill -9)
at any point a rerun skips exactly the committed objects and loads the rest. Transient store
failures are retried with backoff; a retry that finds its own objects already in the ledger knows
the earlier attempt committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from graph.batch import DeltaBuffer, LedgerEntry
from graph.store import GraphStore, LedgerConflict, StoreUnavailable
from loaders import DEFAULT_BATCH_EVENTS
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.geo import GeoIndex, default_index
from loaders.graphs import GraphTarget
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
    retries: int = 8
    retry_base: float = 0.5


@dataclass(slots=True)
class _Batch:
    deltas: CloudTrailDeltas
    objects: list[SourceObject] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)


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
        self.report = LoadReport(store=store.uri)

    def load(self, inputs: Sequence[str]) -> LoadReport:
        started = time.perf_counter()
        for item in inputs:  # fail before writing anything, not after the first inputs
            if not item.startswith("s3://") and not Path(item).exists():
                raise SourceError(f"{item}: no such file or directory")
        batch = self._new_batch()
        for chunk in _chunked(iter_objects(inputs, s3=self.s3), LEDGER_CHUNK):
            done = self._already_loaded(chunk)
            for obj in chunk:
                self.report.files += 1
                if obj.uri in done:
                    self.report.already_loaded += 1
                else:
                    self._add(batch, obj)
                    if batch.deltas.events >= self.options.batch_events or (
                        len(batch.deltas) >= self.options.batch_rows
                    ):
                        self._flush(batch)
                        batch = self._new_batch()
                if self.progress:
                    self.progress(obj, self.report)
        self._flush(batch)
        self.report.graph = self.target.arn
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
        return _Batch(CloudTrailDeltas(self.principals))

    def _already_loaded(self, chunk: list[SourceObject]) -> set[str]:
        """URIs of the chunk the ledger holds, unchanged, as loaded (one store round trip)."""
        if self.target.arn is None:
            return set()
        arn = self.target.arn
        entries = self._retry(lambda: self.store.ledger(arn, [o.uri for o in chunk]))
        return {
            o.uri
            for o in chunk
            if any(
                e.status != "failed" and o.hint in (e.version, e.hint)
                for e in entries.get(o.uri, ())
            )
        }

    def _add(self, batch: _Batch, obj: SourceObject) -> None:
        result = read_object(obj, batch.deltas, self.options.source, self.options.flow_format)
        self._count(obj, result)
        if result.loaded:
            # an object already committed under another hint (touched, copied back) is caught by
            # the ledger check inside the store's write transaction: see _flush
            self._retry(lambda: self.target.ensure(result.first_account, result.first_region))
        if result.status is None:  # not a log file: nothing to record
            return
        batch.objects.append(obj)
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

    def _flush(self, batch: _Batch) -> None:
        if not batch.ledger:
            return
        arn = self.target.arn
        if arn is None:
            # nothing loaded yet and no graph to record failures in
            arn = self._retry(self.target.ensure_for_failures)
            if arn is None:
                return
        out = DeltaBuffer()
        batch.deltas.expand(out, self.geo)
        write = out.take(arn, batch.ledger)
        for attempt in range(self.options.retries + 1):
            try:
                self.store.write(write)
                return
            except StoreUnavailable:
                if attempt == self.options.retries:
                    raise
                time.sleep(self.options.retry_base * 2**attempt)
            except LedgerConflict as conflict:
                mine = {e.source for e in batch.ledger if e.status != "failed"}
                if attempt and mine <= set(conflict.sources):
                    return  # the attempt that lost its connection had committed
                self._redo_without(batch, set(conflict.sources))
                return

    def _redo_without(self, batch: _Batch, loaded: set[str]) -> None:
        """Another loader committed some of these objects first: rebuild the batch without them."""
        r = self.report
        for e in batch.ledger:
            if e.source in loaded:  # counted when read; it was not ours to load after all
                r.already_loaded += 1
                r.records -= e.records
                r.loaded -= e.loaded
                r.skipped -= e.skipped
                r.loaded_files -= e.status == "loaded"
                r.partial_files -= e.status == "partial"
        redo = self._new_batch()
        for obj in batch.objects:
            if obj.uri not in loaded:
                read_object(obj, redo.deltas, self.options.source, self.options.flow_format)
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
