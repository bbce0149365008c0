"""VPC flow records, column-wise: a block of text lines (or a Parquet batch) split into columns,
validated and aggregated per (key, hour) with array operations, no Python work per record.

The arrays only take the rows whose meaning cannot be in doubt: the right number of fields, no
empty field (a doubled space), status OK or "-", times and counters of plain digits, end not
before start, and every key field accepted by the decoders of the per-record path
(loaders/vpcflow_fields.py, applied once per distinct raw value). Every other row goes back, by
its line index, to the per-record path, which rejects it with the message it always gave, counts
it as skipped, or loads it as it always did. Both paths therefore stage the same graph; the
property test in tests/unit/test_vpcflow_columns.py holds them to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]

from loaders.vpcflow import FlowFormat
from loaders.vpcflow_batch import codes, segments
from loaders.vpcflow_fields import (
    BAD,
    I64,
    KEY_FIELDS,
    MAX_COUNTER,
    MAX_EPOCH,
    PORT_ABSENT,
    PROTOCOL_ABSENT,
    VOCABS,
)

Bools = npt.NDArray[np.bool_]
# bytes.split() also splits on these; pyarrow would not (or would end a line at \r)
_OTHER_SPACE = (b"\r", b"\t", b"\x0b", b"\x0c")
_OK = pa.array([b"OK", b"-"], pa.binary())
_NO_TRAFFIC = pa.array([b"NODATA", b"SKIPDATA"], pa.binary())
_DIGITS = 18  # at most 18 digits always fit int64
_MAX = np.iinfo(np.int64).max
_ZERO = pa.scalar(b"0", pa.binary())
_SRC, _DST = KEY_FIELDS.index("srcaddr"), KEY_FIELDS.index("dstaddr")


@dataclass(slots=True)
class Groups:
    """Aggregated records, one entry per distinct (key ids, hour); `seq` is the position of the
    entry's first record in its file, so that interfaces can be staged in first-seen order."""

    ids: I64  # (entries, len(KEY_FIELDS)): Vocab ids, in KEY_FIELDS order
    hour: I64
    packets: I64
    nbytes: I64
    n: I64  # records
    first: I64  # least start
    last: I64  # greatest end
    seq: I64

    def __len__(self) -> int:
        return len(self.seq)

    def take(self, rows: Bools) -> Groups:
        """The entries where `rows` is true."""
        return Groups(
            self.ids[rows],
            self.hour[rows],
            self.packets[rows],
            self.nbytes[rows],
            self.n[rows],
            self.first[rows],
            self.last[rows],
            self.seq[rows],
        )


@dataclass(slots=True)
class Block:
    """What the arrays made of one block; `fallback`: row positions for the per-record path."""

    groups: Groups | None
    fallback: list[int]
    records: int
    skipped: int
    loaded: int
    lines: int  # positions the block spans (for the file's running position)


class Layout:
    """Where a format keeps the fields the columnar path reads."""

    def __init__(self, fmt: FlowFormat) -> None:
        idx = fmt.fields.index  # parse_format made sure of the required fields
        self.width = len(fmt.fields)
        self.start, self.packets, self.bytes = idx("start"), idx("packets"), idx("bytes")
        self.end = fmt.index("end")
        self.status = fmt.index("log-status")
        self.keys = [fmt.index(f) for f in KEY_FIELDS]
        self.src, self.dst = idx("srcaddr"), idx("dstaddr")
        # the id of a field the format lacks: its "no value" ("-" in qualifiers, else None)
        self.absent = [VOCABS[f].id(VOCABS[f].absent) for f in KEY_FIELDS]


@dataclass(slots=True)
class Split:
    """A block's rows as binary columns: row i is line (or record) `lines[i]` of the block;
    `odd` are the lines with another number of fields; `span`: lines (records) in the block."""

    columns: list[Any]
    lines: I64
    odd: list[int]
    span: int


def split_text(text: bytes, width: int, header: bool) -> Split | None:
    """`text` split on single spaces. None when the block holds a whitespace byte other than
    space and newline (then only bytes.split() splits it right)."""
    if any(c in text for c in _OTHER_SPACE):
        return None
    odd: list[int] = []
    unnumbered: list[bool] = []

    def invalid(row: Any) -> str:
        if row.number is None:
            unnumbered.append(True)
        else:
            odd.append(row.number - 1)
        return "skip"

    names = [str(i) for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text),
            read_options=pacsv.ReadOptions(
                use_threads=False,
                column_names=names,
                skip_rows=int(header),
                block_size=max(len(text) + 1, 1 << 16),
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=" ",
                quote_char=False,
                double_quote=False,
                escape_char=False,
                ignore_empty_lines=False,  # a blank line is a row of empty fields: kept in place
                invalid_row_handler=invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.binary()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    rows = table.num_rows
    if unnumbered:
        return None
    span = rows + len(odd) + header
    if odd:
        keep = np.ones(span, dtype=np.bool_)
        keep[:header] = False
        keep[odd] = False
        lines = np.flatnonzero(keep)
    else:
        lines = np.arange(header, header + rows, dtype=np.int64)
    if len(lines) != rows:
        return None  # rows and lines do not pair up: leave the block to bytes.split()
    columns = [c.combine_chunks() if c.num_chunks != 1 else c.chunk(0) for c in table.columns]
    return Split(columns, lines.astype(np.int64), sorted(odd), span)


def split_columns(columns: list[Any]) -> Split:
    """A Parquet batch (already binary columns, b"-" for null): record i is row i."""
    n = len(columns[0]) if columns else 0
    return Split(columns, np.arange(n, dtype=np.int64), [], n)


def aggregate(layout: Layout, split: Split, base: int) -> Block:
    """Validate and aggregate the rows of a block whose first line is at position `base` of its
    file; the rows it cannot vouch for and the odd lines are handed back as fallback."""
    columns, lines, odd = split.columns, split.lines, split.odd
    n = len(lines)
    if not n:
        return Block(None, odd, 0, 0, 0, split.span)
    fallback = np.zeros(n, dtype=np.bool_)
    for col in columns:  # an empty field: a doubled, leading or trailing space, a blank line
        lengths = pc.binary_length(col)
        if pc.min(lengths).as_py() == 0:
            fallback |= _array(lengths) == 0
    use = ~fallback
    skipped = 0
    if layout.status is not None:
        status = columns[layout.status]
        ok = _array(pc.is_in(status, value_set=_OK))
        quiet = _array(pc.is_in(status, value_set=_NO_TRAFFIC))  # NODATA, SKIPDATA
        skipped = int(np.count_nonzero(quiet & use))
        fallback |= ~(ok | quiet)
        use = ok & ~fallback
    start, good = _counts(columns[layout.start])
    if layout.end is None:
        end = start
    else:
        end, good_end = _counts(columns[layout.end])
        good &= good_end & (end >= start)
    good &= end <= MAX_EPOCH  # later times: the per-record path names the field
    packets, good_packets = _counts(columns[layout.packets])
    nbytes, good_bytes = _counts(columns[layout.bytes])
    # sums of a block stay in int64: larger counters take the per-record path (Python ints)
    limit = min(_MAX // max(n, 1), MAX_COUNTER)
    good &= good_packets & good_bytes & (packets <= limit) & (nbytes <= limit)
    ids = np.empty((n, len(KEY_FIELDS)), dtype=np.int64)
    # source and destination share their vocabulary: one dictionary for both
    both = pa.concat_arrays([columns[layout.src], columns[layout.dst]])
    addresses = _ids("srcaddr", both)
    ids[:, _SRC], ids[:, _DST] = addresses[:n], addresses[n:]
    good &= addresses[:n] != BAD
    good &= addresses[n:] != BAD
    for j, pos in enumerate(layout.keys):
        if j in (_SRC, _DST):
            continue
        if pos is None:
            ids[:, j] = layout.absent[j]  # (a field the format lacks: never BAD)
        else:
            ids[:, j] = column = _ids(KEY_FIELDS[j], columns[pos])
            good &= column != BAD
    fallback |= use & ~good
    use &= good
    records = n - int(np.count_nonzero(fallback))  # the per-record path counts the others
    groups = None
    if use.all():  # (the usual block: no row to leave out, nothing to gather)
        groups = _group(ids, start - start % 3600, packets, nbytes, start, end, base + lines)
    elif use.any():
        rows = np.flatnonzero(use)
        hour = start[rows] - start[rows] % 3600
        groups = _group(
            ids[rows], hour, packets[rows], nbytes[rows], start[rows], end[rows], base + lines[rows]
        )
    back = sorted([*lines[fallback].tolist(), *odd]) if odd else lines[fallback].tolist()
    return Block(groups, back, records, skipped, int(np.count_nonzero(use)), split.span)


def _array(values: Any) -> Any:
    return values.to_numpy(zero_copy_only=False)


def _counts(col: Any) -> tuple[I64, Bools]:
    """A column of non-negative integers: (values, whether each is plain digits)."""
    values, good, _lengths, _first = _digits(col, heads=False)
    return values, good


def _digits(col: Any, *, heads: bool = True) -> tuple[I64, Bools, I64, I64 | None]:
    """(values, plain: 1 to 18 ASCII digits, lengths, first bytes) of a binary column; values
    are 0 where not plain. Arrow's cast alone would also take "-5" or "0x10", int() does not.
    The first bytes (None unless `heads`) are for key fields, to tell "0..." and "-" apart."""
    n = len(col)
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)[col.offset : col.offset + n + 1]
    buffer = col.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8)[: offsets[-1]] if buffer else np.empty(0, "u1")
    data = data if len(data) else np.zeros(1, dtype=np.uint8)
    lengths = np.diff(offsets).astype(np.int64)
    good = (lengths > 0) & (lengths <= _DIGITS)
    starts = offsets[:-1].clip(max=len(data) - 1)
    other = data - np.uint8(48) > 9
    if other.any():  # some value is not all digits: which ones (empty ones are not good anyway)
        good &= ~np.logical_or.reduceat(other, starts)
    if not good.all():
        col = pc.if_else(pa.array(good), col, _ZERO)
    values = _array(pc.cast(col, pa.int64())).astype(np.int64, copy=False)
    if not heads:
        return values, good, lengths, None
    return values, good, lengths, np.where(lengths > 0, data[starts], -1).astype(np.int64)


# fields whose ids are their numbers, as (largest, id of "-") (the decoders take exactly str(i)
# for i up to the largest); the native path (loaders/vpcflow_native.py) uses them too
NUMBERED = {
    "srcport": (65535, PORT_ABSENT),
    "dstport": (65535, PORT_ABSENT),
    "protocol": (255, PROTOCOL_ABSENT),
}


def _ids(field: str, col: Any) -> I64:
    """Vocabulary ids of a key column's values (BAD where malformed), decoding each distinct
    raw value once."""
    numbered = NUMBERED.get(field)
    if numbered is not None:
        limit, absent = numbered
        values, good, lengths, first = _digits(col)
        assert first is not None  # (asked for)
        canonical = good & ((lengths == 1) | (first != ord("0"))) & (values <= limit)
        dash = (lengths == 1) & (first == ord("-"))
        numbers: I64 = np.where(canonical, values, np.where(dash, absent, BAD))
        return numbers
    encoded = pc.dictionary_encode(col)
    raws = _array(encoded.dictionary).tolist()
    known = VOCABS[field].of_raws(raws)
    ids: I64 = known[_array(encoded.indices)]
    return ids


def _group(
    ids: I64, hour: I64, packets: I64, nbytes: I64, start: I64, end: I64, seq: I64
) -> Groups:
    """Sum the rows per distinct (ids, hour); rows are in file order, so the least row of each
    group has the group's least position."""
    order, starts, firsts = segments(codes([*ids.T, hour]))
    counts = np.diff(np.append(starts, len(order)))
    return Groups(
        ids[firsts],
        hour[firsts],
        np.add.reduceat(packets[order], starts),
        np.add.reduceat(nbytes[order], starts),
        counts.astype(np.int64),
        np.minimum.reduceat(start[order], starts),
        np.maximum.reduceat(end[order], starts),
        seq[firsts],
    )
