"""The export format: one JSON object per line, the same bytes from every backend.

Vertices come first, sorted by (label, key); then edges sorted by (label, source label, source
key, target label, target key, qualifier), each with its hourly counters sorted by hour.
Keys inside objects are sorted and no whitespace is emitted, so two stores loaded with the same
input can be compared with `cmp`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from graph.model import EDGE_TYPES, Scalar, VertexRef


def vertex_record(
    graph: str, label: str, key: str, first: int, last: int, props: Mapping[str, Scalar]
) -> dict[str, Any]:
    return {
        "type": "vertex",
        "graph": graph,
        "label": label,
        "key": key,
        "first": first,
        "last": last,
        "props": {k: v for k, v in sorted(props.items()) if v is not None},
    }


def edge_record(
    graph: str,
    label: str,
    src: VertexRef,
    dst: VertexRef,
    qualifier: str,
    first: int,
    last: int,
    hours: Sequence[tuple[int, Sequence[int]]],
) -> dict[str, Any]:
    counters = EDGE_TYPES[label].counters
    return {
        "type": "edge",
        "graph": graph,
        "label": label,
        "src": [src.label, src.key],
        "dst": [dst.label, dst.key],
        "qualifier": qualifier,
        "first": first,
        "last": last,
        "counters": list(counters),
        "hours": [[hour, *counts[: len(counters)]] for hour, counts in sorted(hours)],
    }


def vertex_sort_key(label: str, key: str) -> tuple[str, str]:
    return (label, key)


def edge_sort_key(
    label: str, src: VertexRef, dst: VertexRef, qualifier: str
) -> tuple[str, str, str, str, str, str]:
    return (label, src.label, src.key, dst.label, dst.key, qualifier)


def dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_jsonl(records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    n = 0
    for record in records:
        out.write(dumps(record))
        out.write("\n")
        n += 1
    return n


def sorted_records(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Sort records in export order (for backends that cannot sort server-side)."""

    def key(r: dict[str, Any]) -> tuple[int, tuple[str, ...]]:
        if r["type"] == "vertex":
            return (0, vertex_sort_key(r["label"], r["key"]))
        return (
            1,
            edge_sort_key(r["label"], VertexRef(*r["src"]), VertexRef(*r["dst"]), r["qualifier"]),
        )

    return iter(sorted(records, key=key))
