"""Split JSON documents into records without holding a whole large file in memory.

Source files come in three shapes: one JSON value (an S3 delivery object `{"Records": [...]}`,
a single event, or an array of events), JSON lines, or a very large array (CloudTrail Lake and
Athena exports). Files up to `WHOLE_LIMIT` bytes are decoded in one call, the fast path. Larger
files are streamed: JSON lines line by line, arrays by a scanner that cuts the first array in the
document into its elements (the elements are decoded and validated by the caller).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol


class ByteStream(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


WHOLE_LIMIT = 64 << 20
CHUNK = 1 << 20
_STRUCTURAL = re.compile(rb'["\[\]{},]')
_WS = b" \t\r\n"


class TruncatedJson(ValueError):
    pass


def first_byte(data: bytes) -> int | None:
    """The first non-whitespace byte (after an optional UTF-8 BOM), or None when blank."""
    stripped = data.removeprefix(b"\xef\xbb\xbf").lstrip(_WS)
    return stripped[0] if stripped else None


def iter_lines(stream: ByteStream, head: bytes = b"") -> Iterator[tuple[int, bytes]]:
    """(line number starting at 1, line) for every non-blank line; `head` was read already."""
    number = 0
    pending = head
    while True:
        chunk = stream.read(CHUNK)
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop() if chunk else b""
        for line in lines:
            number += 1
            if line.strip(_WS):
                yield number, line
        if not chunk:
            return


def iter_array_items(stream: ByteStream, head: bytes = b"") -> Iterator[bytes]:
    """The elements of the first array in the document (depth <= 2), as raw JSON bytes.

    `{"Records": [a, b]}` and `[a, b]` both give a and b. Raises TruncatedJson when the
    document ends before the array closes (complete elements before that were yielded).
    """
    buf = head
    pos = 0
    depth = 0
    target = 0  # depth of the array being split; 0 until it is found
    start = 0  # where the current element starts in buf
    eof = False
    while True:
        if not target:
            start = pos  # nothing before the array needs keeping
        if eof and pos >= len(buf):
            raise TruncatedJson("document ended before its array closed")
        if not eof and len(buf) - pos < 2:
            chunk = stream.read(CHUNK)
            eof = not chunk
            buf += chunk
            continue
        m = _STRUCTURAL.search(buf, pos)
        if m is None:
            pos = len(buf)
            if not eof:
                buf, start, pos, eof = _refill(stream, buf, start, pos)
            continue
        c = m.group()
        pos = m.end()
        if c == b'"':
            end = _string_end(buf, pos)
            while end < 0 and not eof:
                buf, start, pos, eof = _refill(stream, buf, start, pos)
                end = _string_end(buf, pos)
            if end < 0:
                raise TruncatedJson("document ended inside a string")
            pos = end
        elif c in b"[{":
            depth += 1
            if not target and c == b"[" and depth <= 2:
                target, start = depth, pos
        elif c in b"]}":
            if depth == target and target:
                item = buf[start : pos - 1].strip(_WS)
                if item:
                    yield item
                return
            depth -= 1
            if depth < 0:
                raise TruncatedJson("unbalanced brackets")
        elif depth == target and target:  # a comma between elements
            yield buf[start : pos - 1].strip(_WS)
            start = pos
            buf, start, pos = buf[start:], 0, pos - start


def _string_end(buf: bytes, pos: int) -> int:
    """Index just past the closing quote of a string whose body starts at pos, or -1."""
    while True:
        q = buf.find(b'"', pos)
        if q < 0:
            return -1
        backslashes = 0
        i = q - 1
        while i >= pos and buf[i] == 0x5C:
            backslashes += 1
            i -= 1
        if backslashes % 2 == 0:
            return q + 1
        pos = q + 1


def _refill(stream: ByteStream, buf: bytes, start: int, pos: int) -> tuple[bytes, int, int, bool]:
    """Drop what precedes the current element and append the next chunk (and tell EOF)."""
    keep = min(start, pos)
    chunk = stream.read(CHUNK)
    return buf[keep:] + chunk, start - keep, pos - keep, not chunk
