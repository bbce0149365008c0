"""Read one source object into its own staging area, with its counts, errors and ledger status.

Nothing here writes: a failed object leaves no trace but its result; the pipeline merges the
staging of a successful one into the current batch.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from isal import igzip
from isal.isal_zlib import error as IsalError  # corrupt deflate streams

from graph.batch import LedgerStatus
from loaders.cloudtrail import Cursor, FileError, Item, delivery_items, read_events
from loaders.cloudtrail_graph import CloudTrailDeltas, Staged
from loaders.cloudtrail_native import ENABLED as NATIVE
from loaders.cloudtrail_native import stage_delivery, stage_file
from loaders.detect import CLOUDTRAIL, DIGEST, GUARDDUTY, SNIFF_BYTES, VPCFLOW, detect
from loaders.graphs import RoutedStaging
from loaders.jsonstream import WHOLE_LIMIT
from loaders.sources import (
    GZIP_MAGIC,
    ByteStream,
    HashingReader,
    LocalFile,
    SourceObject,
    decompressed,
)

READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zlib.error,
    zipfile.BadZipFile,
    cast("type[BaseException]", IsalError),
)


MAX_LEADING_BLANK = 16 << 20
SMALL_OBJECT = 32 << 20  # read whole below this size (compressed bytes)


@dataclass(slots=True)
class ObjectResult:
    version: str = ""
    size: int = 0
    kind: str | None = None
    status: LedgerStatus | None = None  # None: nothing to record (not an event log)
    records: int = 0
    loaded: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)  # "<where>: <message>"
    failure: str | None = None
    skip_reason: str | None = None
    first_account: str | None = None
    first_region: str | None = None


class _Prepended:
    """`head` followed by the rest of `stream`."""

    def __init__(self, head: bytes, stream: ByteStream) -> None:
        self._head = head
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(n)
        if n < 0:
            out, self._head = self._head + self._stream.read(), b""
            return out
        out, self._head = self._head[:n], self._head[n:]
        if len(out) < n:
            out += self._stream.read(n - len(out))
        return out

    def close(self) -> None:
        self._stream.close()


@dataclass(frozen=True, slots=True)
class ReadOptions:
    forced: str | None = None  # the source type, instead of detecting it
    flow_format: str | None = None  # VPC flow fields of files without a header line


# (one per load's options, not one per object: frozen, so shared)
_read_options = functools.cache(ReadOptions)


def read_object(
    obj: SourceObject, into: CloudTrailDeltas, forced: str | None, flow_format: str | None = None
) -> ObjectResult:
    """Read `obj`, adding its records to `into` only if the object as a whole is usable."""
    opts = _read_options(forced, flow_format)
    res = ObjectResult(size=obj.size)
    if (
        NATIVE
        and obj.path is not None
        and obj.size <= SMALL_OBJECT
        and type(into) is CloudTrailDeltas
        and forced in (None, CLOUDTRAIL)
    ):
        # the usual CloudTrail file: the core reads, hashes and gunzips it too (anything it
        # declines is read below from the start, and staged nothing)
        read = stage_file(into, obj.path, obj.size, forced is None, obj.account_hint, res.errors)
        if read is not None:
            res.size, version, staged = read
            res.version = obj.version or version
            _staged(res, staged)
            return _settled(res)
    try:
        raw = obj.opener()
    except Exception as e:
        res.failure = f"cannot open: {e}"
        res.status = "failed"
        res.version = obj.version or f"unreadable:{obj.hint}"
        return res
    if obj.size <= SMALL_OBJECT:
        _read_small(res, obj, into, opts, raw)
    else:
        # a large object can still fail after some events (a corrupt tail): stage it apart
        # (routed per record like a small one when the load routes by membership)
        staging = (
            into.apart() if isinstance(into, RoutedStaging) else CloudTrailDeltas(into.principals)
        )
        _read_streamed(res, obj, staging, opts, raw)
        if res.failure is None:
            into.absorb(staging)
    return _settled(res)


def _settled(res: ObjectResult) -> ObjectResult:
    """`res` with its ledger status final."""
    if res.failure is not None:
        res.status = "failed"
    elif res.status is not None:
        res.status = (
            "failed" if res.errors and not res.loaded else ("partial" if res.errors else "loaded")
        )
    return res


def _read_small(
    res: ObjectResult,
    obj: SourceObject,
    into: CloudTrailDeltas,
    opts: ReadOptions,
    raw: ByteStream,
) -> None:
    """Most log objects are small: one read, one hash, one whole-buffer gunzip.

    Everything that can fail the whole object (reading, gunzip, malformed JSON) happens before
    the first event is yielded, so events go straight into the batch's staging."""
    gzipped = False
    try:
        try:
            data = _read_all(raw, obj.size)
        finally:
            raw.close()
        res.size = len(data)
        res.version = obj.version or f"sha256:{hashlib.sha256(data).hexdigest()}"
        gzipped = data[:2] == GZIP_MAGIC
        if gzipped:
            data = igzip.decompress(data)  # type: ignore[no-untyped-call]
        if data[:1] == b"{" and (opts.forced or detect(data[:SNIFF_BYTES])) == CLOUDTRAIL:
            # most objects are S3 deliveries of a few events: skip the general path's stream
            # plumbing, which costs more than decoding them (it repeats this when it is not one)
            if NATIVE and type(into) is CloudTrailDeltas and len(data) <= WHOLE_LIMIT:
                staged = stage_delivery(into, data, obj.account_hint, res.errors)
                if staged is not None:
                    _staged(res, staged)
                    return
            items = delivery_items(data)
            if items is not None:
                _stage_events(res, obj, into, items, None)
                return
        stream = io.BytesIO(data)
        head = stream.read(SNIFF_BYTES)
        if not head.strip(b" \t\r\n"):
            head += stream.read()
        _read(res, obj, into, opts, head, stream, gzipped)
    except FileError as e:
        res.failure = str(e)
    except READ_ERRORS as e:
        res.failure = f"corrupt gzip data: {e}" if gzipped else f"read error: {e}"
    except UnicodeDecodeError as e:
        res.failure = f"invalid UTF-8 at byte {e.start}"
    if not res.version:
        res.version = obj.version or f"unreadable:{obj.hint}"


def _read_all(raw: ByteStream, size: int) -> bytes:
    first = raw.read(size + 1)
    if len(first) <= size and isinstance(raw, LocalFile):
        return first  # a short read of a regular file is its end: one system call in all
    parts = [first]
    while chunk := raw.read(1 << 20):
        parts.append(chunk)
    return b"".join(parts)


def _read_streamed(
    res: ObjectResult,
    obj: SourceObject,
    into: CloudTrailDeltas,
    opts: ReadOptions,
    raw: ByteStream,
) -> None:
    reader = HashingReader(raw)
    gzipped = False
    try:
        stream, gzipped = decompressed(reader)
        head = stream.read(SNIFF_BYTES)
        while head and not head.strip(b" \t\r\n") and len(head) < MAX_LEADING_BLANK:
            more = stream.read(SNIFF_BYTES)  # look past leading whitespace
            if not more:
                break
            head += more
        _read(res, obj, into, opts, head, stream, gzipped)
    except FileError as e:
        res.failure = str(e)
    except READ_ERRORS as e:
        res.failure = f"corrupt gzip data: {e}" if gzipped else f"read error: {e}"
    except UnicodeDecodeError as e:
        res.failure = f"invalid UTF-8 at byte {e.start}"
    finally:
        # hash the rest of the object; a broken stream may refuse (then the hash is partial)
        with contextlib.suppress(*READ_ERRORS, ValueError):
            reader.drain()
        res.size = reader.count or obj.size
        res.version = obj.version or f"sha256:{reader.hexdigest()}"
        reader.close()


def _read(
    res: ObjectResult,
    obj: SourceObject,
    deltas: CloudTrailDeltas,
    opts: ReadOptions,
    head: bytes,
    stream: ByteStream,
    gzipped: bool,
) -> None:
    if not head:
        raise FileError(
            "empty file (0 bytes)" if obj.size == 0 else "no content after decompression"
        )
    if not head.strip(b" \t\r\n"):
        raise FileError("blank file (only whitespace)")
    kind = opts.forced or detect(head)
    res.kind = kind
    if kind is None:
        what = "gzip data" if gzipped else "content"
        raise FileError(f"unrecognized {what}: not CloudTrail, VPC Flow Logs or GuardDuty")
    if kind == DIGEST:
        res.skip_reason = "CloudTrail digest file"
        return
    if kind == VPCFLOW:
        from loaders.vpcflow_graph import stage_flow_file

        res.status = "loaded"
        stage_flow_file(res, obj, deltas, _Prepended(head, stream), opts.flow_format)
        return
    if kind == GUARDDUTY:
        from loaders.guardduty_graph import stage_finding_file

        res.status = "loaded"
        stage_finding_file(res, obj, deltas, _Prepended(head, stream))
        return
    if kind != CLOUDTRAIL:
        res.skip_reason = f"{kind} sources are not supported by this version"
        return
    cursor = Cursor()
    _stage_events(res, obj, deltas, read_events(_Prepended(head, stream), cursor), cursor)


def _stage_events(
    res: ObjectResult,
    obj: SourceObject,
    deltas: CloudTrailDeltas,
    items: Iterable[Item],
    cursor: Cursor | None,
) -> None:
    _staged(res, deltas.add_all(items, obj.account_hint, res.errors, cursor))


def _staged(res: ObjectResult, staged: Staged) -> None:
    res.kind = CLOUDTRAIL
    res.status = "loaded"
    res.records, res.loaded, res.skipped = staged.records, staged.loaded, staged.skipped
    res.first_account, res.first_region = staged.first_account, staged.first_region
