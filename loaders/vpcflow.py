"""VPC Flow Logs: read → parse. A flow-log object becomes chunks of records split into fields.

Accepted shapes (detected from content, never from the file name):
- text, plain or gzip: the default version-2 format, or a custom format (fields of versions 3-8
  in any order) declared by the header line AWS writes at the top of every S3 object; files
  without a header use `--flow-format "<fields>"`, else the version-2 format;
- Parquet (AWS's own delivery option): columns named with underscores (`account_id`);
- JSON: arrays or lines of records wrapped by log pipelines: Cribl captures of the text lines
  (`_raw`, header line included) and normalized records (Panther's camelCase `srcAddr`,
  underscores, hyphens), possibly inside `log` or `message` envelopes.

Records stay lists of raw `bytes` fields (`b"-"` = no value, as AWS writes it): no per-record
objects, so that the graph side can aggregate a few million records per second per core. JSON
and Parquet records are turned into the same shape, in `CANONICAL` field order.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from loaders.cloudtrail import FileError, RecordError, Skipped
from loaders.jsonstream import ByteStream, first_byte, iter_lines
from loaders.timeparse import parse_time

# every field AWS documents, by the format version that introduced it
_VERSIONS: dict[int, str] = {
    2: "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status",
    3: "vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr",
    4: "region az-id sublocation-type sublocation-id",
    5: "pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path",
    7: "ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id "
    "ecs-container-id ecs-second-container-id ecs-service-name ecs-task-definition-arn "
    "ecs-task-arn ecs-task-id",
    8: "reject-reason",
}
FIELDS: dict[str, int] = {f: v for v, names in _VERSIONS.items() for f in names.split()}
CANONICAL: tuple[str, ...] = tuple(FIELDS)
DEFAULT_FORMAT = _VERSIONS[2]
# what a record needs to be placed in the graph (an interface, its peer, a time, a volume)
REQUIRED = ("interface-id", "srcaddr", "dstaddr", "start", "packets", "bytes")
PARQUET_MAGIC = b"PAR1"
NONE = b"-"
_BLOCK = 4 << 20
# JSON key spellings: hyphens, underscores and camelCase all fold to the same letters
_FOLDED = {f.replace("-", ""): f for f in FIELDS} | {
    "account": "account-id",
    "status": "log-status",
}
_S3_REGION = re.compile(r"vpcflowlogs/([a-z]{2}(?:-[a-z]+)+-\d)/|aws-region=([a-z0-9-]+)/")


class FlowFormatError(ValueError):
    """A flow-log format (a `--flow-format` value or a header line) that cannot be used."""


@dataclass(frozen=True, slots=True)
class FlowFormat:
    fields: tuple[str, ...]  # in record order; None entries are fields this version ignores

    def index(self, name: str) -> int | None:
        return self.fields.index(name) if name in self.fields else None


def parse_format(text: str, *, strict: bool = True) -> FlowFormat:
    """The fields of `text` ("version account-id ..." or AWS's "${version} ${account-id} ...").

    Raises FlowFormatError for unknown (when `strict`) or repeated fields, or when a field the
    graph needs is missing. A header line is read with strict=False: fields of formats newer
    than this loader are kept in place (so positions stay right) and ignored."""
    names = [canonical_name(t.strip("${}")) or t.strip("${}") for t in text.split()]
    if not names:
        raise FlowFormatError("no fields")
    unknown = [n for n in names if n not in FIELDS]
    if unknown and strict:
        raise FlowFormatError(f"unknown fields: {', '.join(unknown)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise FlowFormatError(f"repeated fields: {', '.join(repeated)}")
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        raise FlowFormatError(f"missing required fields: {', '.join(missing)}")
    return FlowFormat(tuple(names))


def canonical_name(key: str) -> str | None:
    """The field an AWS, Athena/Parquet or Panther spelling names, or None if unknown."""
    return _FOLDED.get(key.lower().replace("-", "").replace("_", ""))


def region_of(key: str | None) -> str | None:
    """The region of an S3 key in the flow-log layout (also Hive-style prefixes)."""
    m = _S3_REGION.search(key) if key else None
    return (m.group(1) or m.group(2)) if m else None


@dataclass(slots=True)
class Chunk:
    """Records of one format; `where(i)` names the i-th one ("line 7", "record 3").

    Text chunks also carry their lines as one block (`text`, line i of the block is row i) and
    Parquet chunks their columns (`columns`, in `fmt` order), so that the loader can split and
    aggregate them column-wise (loaders/vpcflow_columns.py); `rows` stays the reference."""

    fmt: FlowFormat
    rows: Iterable[list[bytes]]  # an empty list is a blank line, not a record
    where: Callable[[int], str]
    region: str | None = None  # from the S3 key a pipeline envelope carries
    text: bytes | None = None
    header: bool = False  # the first line of `text` is the header line, not a record
    columns: list[Any] | None = None  # pyarrow binary arrays, b"-" for no value


Item = Chunk | RecordError | Skipped


def read_flows(stream: ByteStream, flow_format: str | None) -> Iterator[Item]:
    """Every record of a decompressed flow-log object. Raises FileError when it is unusable."""
    head = stream.read(_BLOCK)
    first = first_byte(head)
    if head[:4] == PARQUET_MAGIC:
        yield from _parquet(head + stream.read())
    elif first in (ord("{"), ord("[")):
        yield from _Json(flow_format).items(head + stream.read())
    else:
        yield from _text(stream, head, flow_format)


def _fallback(flow_format: str | None) -> FlowFormat:
    try:
        return parse_format(flow_format or DEFAULT_FORMAT)
    except FlowFormatError as e:
        raise FileError(f"flow format: {e}") from None


def _header(line: bytes) -> FlowFormat | None:
    """The format a header line declares; None if `line` is a record (it starts with a digit)."""
    text = line.strip().decode("utf-8", "replace")
    if not text or text[0].isdigit():
        return None
    try:
        return parse_format(text, strict=False)
    except FlowFormatError as e:
        raise FileError(f"line 1: header: {e}") from None


def _text(stream: ByteStream, head: bytes, flow_format: str | None) -> Iterator[Chunk]:
    """Blocks of whole lines; the first line is the header when it names fields."""
    fmt: FlowFormat | None = None
    base = 1  # the line number of the block's first line
    pending = head.removeprefix(b"\xef\xbb\xbf")
    more = True
    while more:
        block = stream.read(_BLOCK)
        more = bool(block)
        pending += block
        # whole lines while more may come; the last block keeps its unterminated line
        cut = pending.rfind(b"\n") + 1 if more else len(pending)
        if more and not cut:
            continue
        text, pending = pending[:cut], pending[cut:]
        header = False
        if fmt is None:
            end = text.find(b"\n")
            fmt = _header(text if end < 0 else text[:end])
            header = fmt is not None
            if fmt is None:
                fmt = _fallback(flow_format)

        def where(i: int, base: int = base) -> str:
            return f"line {base + i}"

        yield Chunk(fmt, _rows(text, header), where, text=text, header=header)
        if more:
            base += text.count(b"\n")


def _rows(text: bytes, header: bool) -> Iterator[list[bytes]]:
    """The fields of every line of `text`, split only when asked for (the columnar path
    never is)."""
    lines = text.split(b"\n")
    if header:
        lines[0] = b""  # the header is not a record
    yield from map(bytes.split, lines)


_CANONICAL_FORMAT = FlowFormat(CANONICAL)
_TIMES = frozenset({"start", "end"})
_ENVELOPES = ("_raw", "log", "message")
_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError)


class _Json:
    """JSON records: flow records with named fields, or envelopes around text lines."""

    def __init__(self, flow_format: str | None) -> None:
        self.flow_format = flow_format
        self.text_format: FlowFormat | None = None  # set by a header line in a `_raw` envelope

    def items(self, data: bytes) -> Iterator[Item]:
        try:
            value = msgspec.json.decode(data)
        except _DECODE_ERRORS:
            if b"\n" not in data.strip():
                raise FileError("malformed JSON") from None
            for number, line in iter_lines(_Empty(), data):
                try:
                    item = msgspec.json.decode(line)
                except _DECODE_ERRORS as e:
                    yield RecordError(f"line {number}", f"malformed JSON: {e}")
                    continue
                yield from self._record(item, f"line {number}", None, 0)
            return
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            yield from self._record(item, f"record {i}", None, 0)

    def _record(self, value: Any, where: str, region: str | None, depth: int) -> Iterator[Item]:
        if isinstance(value, str) and depth:
            yield from self._line(value, where, region)
            return
        if not isinstance(value, dict) or depth > 3:
            yield Skipped(where, "no flow record in this record")
            return
        source = value.get("source") or value.get("__source")
        region = region or region_of(source if isinstance(source, str) else None)
        for envelope in _ENVELOPES:
            if envelope in value:
                yield from self._record(value[envelope], where, region, depth + 1)
                return
        fields: dict[str, Any] = {}
        for key, v in value.items():
            name = canonical_name(key) if isinstance(key, str) else None
            if name is not None and v is not None:
                fields[name] = v
        absent = [f for f in ("interface-id", "srcaddr", "dstaddr", "start") if f not in fields]
        if absent:
            yield Skipped(where, f"incomplete flow record (no {', '.join(absent)})")
            return
        fields.setdefault("end", fields["start"])
        row = [_json_value(name, fields.get(name)) for name in CANONICAL]
        row[_PACKETS] = row[_PACKETS] if "packets" in fields else b"0"
        row[_BYTES] = row[_BYTES] if "bytes" in fields else b"0"
        yield Chunk(_CANONICAL_FORMAT, [row], lambda _i: where, region)

    def _line(self, text: str, where: str, region: str | None) -> Iterator[Item]:
        line = text.encode()
        header = _header(line) if line.strip()[:1].isalpha() else None
        if header is not None:
            self.text_format = header
            yield Skipped(where, "header line")
            return
        fmt = self.text_format or _fallback(self.flow_format)
        yield Chunk(fmt, [line.split()], lambda _i: where, region)


_PACKETS, _BYTES = CANONICAL.index("packets"), CANONICAL.index("bytes")


def _json_value(name: str, v: Any) -> bytes:
    if v is None:
        return NONE
    if isinstance(v, bool):
        return str(v).lower().encode()
    if isinstance(v, int | float):
        return str(int(v)).encode() if v == int(v) else str(v).encode()
    text = v if isinstance(v, str) else msgspec.json.encode(v).decode()
    if name in _TIMES and text and not text.isdigit():
        try:
            return str(parse_time(text)).encode()
        except ValueError:
            pass  # left as it is: the record gets an error naming the field
    return text.encode() or NONE


class _Empty:
    def read(self, _n: int = -1) -> bytes:
        return b""


def _parquet(data: bytes) -> Iterator[Chunk]:
    """AWS's Parquet delivery (flat columns, underscores), in record batches."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    errors = (pa.ArrowException, OSError, ValueError)
    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        columns = {canonical_name(n): n for n in pf.schema_arrow.names}
        columns.pop(None, None)
        fmt = parse_format(" ".join(str(c) for c in columns))
    except FlowFormatError as e:
        raise FileError(f"Parquet file without VPC flow columns: {e}") from None
    except errors as e:
        raise FileError(f"corrupt Parquet file: {e}") from None
    start = 0
    try:
        for batch in pf.iter_batches(65536, columns=list(columns.values())):
            values = [_column_bytes(pa, col) for col in batch.columns]

            def where(i: int, start: int = start) -> str:
                return f"record {start + i}"

            yield Chunk(fmt, _parquet_rows(values), where, columns=values)
            start += batch.num_rows
    except errors as e:
        raise FileError(f"corrupt Parquet file: {e}") from None


def _column_bytes(pa: Any, col: Any) -> Any:
    """A column as binary values, b"-" for null (what the text format writes)."""
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("s")).cast(pa.int64())
    return col.cast(pa.string()).cast(pa.binary()).fill_null(NONE)


def _parquet_rows(columns: list[Any]) -> Iterator[list[bytes]]:
    values = [col.to_numpy(zero_copy_only=False).tolist() for col in columns]
    yield from map(list, zip(*values, strict=True))
