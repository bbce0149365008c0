"""VPC flow text blocks aggregated by the native core (loaders/native/src/flows.rs).

The columnar path (loaders/vpcflow_columns.py) splits a text block with pyarrow's CSV reader and
validates and groups it with numpy: a dozen array passes, each over the whole block. The core
does the same in one pass per block and hands back the same `Block`: one entry per distinct
(key ids, hour), the lines for the per-record path, and the counts. Its rules are the columnar
path's, row for row, and the tests hold the two to the same staged graph
(tests/unit/test_vpcflow_native.py).

Python keeps what a key value means: the core returns each key column's distinct raw values,
the vocabularies decode them (`Vocab.of_raws`, in the columnar path's order, so that new values
get the same ids), and the core looks the ids up per row. Parquet keeps the columnar path.

`GUMSHOE_NATIVE=0`, or a build without the core, uses the columnar path for text as well.
"""

from __future__ import annotations

import numpy as np

from loaders.cloudtrail_native import BUILT, ENABLED
from loaders.vpcflow_columns import NUMBERED, Block, Groups, Layout
from loaders.vpcflow_fields import I64, KEY_FIELDS, MAX_COUNTER, MAX_EPOCH, VOCABS

if BUILT:
    from loaders import _native

__all__ = ["ENABLED", "aggregate_text", "split_only"]

_Plan = int | tuple[int, int, int] | tuple[int, list[int]]


def aggregate_text(layout: Layout, text: bytes, header: bool, base: int) -> Block | None:
    """The columnar path's `aggregate(layout, split_text(text, ...), base)`, in the core; None
    when the block holds whitespace other than spaces and newlines (the per-record path's)."""
    block = _native.FlowBlock.split(text, layout.width, header)
    if block is None:
        return None
    plans: list[_Plan] = []
    addresses: list[int] | None = None
    for j, (field, pos) in enumerate(zip(KEY_FIELDS, layout.keys, strict=True)):
        if pos is None:
            plans.append(layout.absent[j])
        elif field in NUMBERED:  # ids are the numbers: (largest, id of "-")
            plans.append((pos, *NUMBERED[field]))
        elif field in ("srcaddr", "dstaddr"):
            if addresses is None:
                # one vocabulary for both, numbered sources first (the columnar path's order)
                both = block.distinct([layout.src, layout.dst])
                addresses = VOCABS["srcaddr"].of_raws(both).tolist()
            plans.append((pos, addresses))
        else:
            plans.append((pos, VOCABS[field].of_raws(block.distinct([pos])).tolist()))
    ids, hour, packets, nbytes, n, first, last, seq, back, records, skipped, loaded = (
        block.aggregate(
            plans, layout.status, layout.start, layout.end, layout.packets, layout.bytes,
            base, MAX_EPOCH, MAX_COUNTER,
        )
    )  # fmt: skip
    groups = None
    if seq:

        def column(buffer: bytearray) -> I64:
            return np.frombuffer(buffer, dtype=np.int64)

        groups = Groups(
            column(ids).reshape(-1, len(KEY_FIELDS)),
            *map(column, (hour, packets, nbytes, n, first, last, seq)),
        )
    return Block(groups, back, records, skipped, loaded, block.span)


def split_only(text: bytes, width: int, header: bool) -> int:
    """The rows of a block with `width` fields, split by the core and nothing else (the
    benchmark's native parse-only reference); -1 when the core declines the block."""
    block = _native.FlowBlock.split(text, width, header)
    return -1 if block is None else len(block)
