"""The decode passes of bench.ingest: each file read, gunzipped with isal and decoded, untyped
(`msgspec.json.decode`, the baseline) or by the loader's typed decode, on one pinned CPU."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import msgspec
from isal import igzip

_gunzip: Callable[[bytes], bytes] = igzip.decompress


def files_of(root: Path) -> list[str]:
    """Every workload file, in the loader's order (sorted directories, no hidden names)."""
    out: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(f"{folder}/{n}" for n in sorted(names) if not n.startswith("."))
    return out


def warm(root: Path) -> tuple[int, int, float]:
    """Read every file once (page cache) without keeping a list: (files, bytes, seconds)."""
    began = time.perf_counter()
    files = total = 0
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for n in names:
            with open(f"{folder}/{n}", "rb") as fh:
                total += len(fh.read())
            files += 1
    return files, total, time.perf_counter() - began


def decode_untyped(files: Sequence[str]) -> dict[str, float]:
    decode = msgspec.json.decode
    events = raw = 0
    began = time.perf_counter()
    for f in files:
        with open(f, "rb") as fh:
            data = _gunzip(fh.read())
        raw += len(data)
        events += len(decode(data)["Records"])
    return {"events": events, "json_bytes": raw, "seconds": time.perf_counter() - began}


def decode_typed(files: Sequence[str]) -> dict[str, float]:
    from loaders.cloudtrail import Event, read_events

    events = other = raw = 0
    began = time.perf_counter()
    for f in files:
        with open(f, "rb") as fh:
            data = _gunzip(fh.read())
        raw += len(data)
        for item in read_events(io.BytesIO(data)):
            if isinstance(item, Event):
                events += 1
            else:
                other += 1
    return {
        "events": events,
        "not_events": other,
        "json_bytes": raw,
        "seconds": time.perf_counter() - began,
    }


@contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """This process on `cpu` alone, then back on the CPUs it had."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
