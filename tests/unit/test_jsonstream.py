"""loaders.jsonstream: large arrays and JSON lines split into records, whatever the chunk size."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loaders import jsonstream
from loaders.jsonstream import TruncatedJson, first_byte, iter_array_items, iter_lines

CHUNKS = [1, 2, 7, 64]
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    # monkeypatch is set once per test (one chunk size), not per example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Strings full of what a naive scanner trips on: quotes, backslashes, brackets, commas, unicode.
_TRICKY = st.text(
    alphabet=st.one_of(
        st.sampled_from('"\\[]{},:\n\t /u'),
        st.characters(codec="utf-8"),
    ),
    max_size=12,
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    _TRICKY,
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_TRICKY, children, max_size=4),
    ),
    max_leaves=12,
)


class EndlessEofGuard(io.BytesIO):
    """A byte stream that fails loudly when a reader keeps reading after end of file."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads_at_eof = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data:
            self.reads_at_eof += 1
            if self.reads_at_eof > 1000:
                raise AssertionError("read() called 1000 times at end of file: the reader loops")
        return data


def _split(document: bytes) -> list[Any]:
    return [json.loads(item) for item in iter_array_items(EndlessEofGuard(document))]


@pytest.fixture(params=CHUNKS, ids=[f"chunk{c}" for c in CHUNKS])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    size: int = request.param
    monkeypatch.setattr(jsonstream, "CHUNK", size)
    return size


# ----------------------------------------------------------------------------- arrays


@PROPERTY
@given(items=st.lists(JSON_VALUES, max_size=8), indent=st.sampled_from([None, 0, 2]))
def test_arrays_split_into_their_elements(chunk: int, items: list[Any], indent: int | None) -> None:
    document = json.dumps(items, indent=indent, ensure_ascii=False).encode()
    assert _split(document) == items
    escaped = json.dumps(items, indent=indent).encode()  # \uXXXX escapes instead of UTF-8
    assert _split(escaped) == items


@PROPERTY
@given(items=st.lists(JSON_VALUES, max_size=8), indent=st.sampled_from([None, 2]))
def test_delivery_objects_split_into_their_records(
    chunk: int, items: list[Any], indent: int | None
) -> None:
    document = json.dumps({"Records": items}, indent=indent, ensure_ascii=False).encode()
    assert _split(document) == items


@PROPERTY
@given(items=st.lists(JSON_VALUES, max_size=6))
def test_head_already_read_is_used(chunk: int, items: list[Any]) -> None:
    document = json.dumps(items).encode()
    for cut in {0, 1, len(document) // 2, len(document)}:
        got = iter_array_items(EndlessEofGuard(document[cut:]), document[:cut])
        assert [json.loads(x) for x in got] == items


def _with_offsets(items: list[Any], wrapped: bool) -> tuple[bytes, list[int]]:
    """The document and, for each element but the last, the offset just past its comma."""
    head = b'{"Records": [' if wrapped else b"[\n  "
    out = bytearray(head)
    commas = []
    for i, item in enumerate(items):
        out += json.dumps(item, ensure_ascii=False).encode()
        if i < len(items) - 1:
            out += b","
            commas.append(len(out))
            out += b"\n  "
    out += b"]}" if wrapped else b"\n]"
    return bytes(out), commas


@PROPERTY
@given(
    items=st.lists(JSON_VALUES, min_size=1, max_size=6),
    wrapped=st.booleans(),
    data=st.data(),
)
def test_truncated_documents_yield_only_complete_elements(
    chunk: int, items: list[Any], wrapped: bool, data: st.DataObject
) -> None:
    document, commas = _with_offsets(items, wrapped)
    closing = document.rindex(b"]")
    cut = data.draw(st.integers(min_value=0, max_value=closing), label="cut")
    truncated = document[:cut]
    got: list[Any] = []
    with pytest.raises(TruncatedJson):
        for raw in iter_array_items(EndlessEofGuard(truncated)):
            got.append(json.loads(raw))
    complete = sum(1 for end in commas if end <= cut)
    assert got == items[:complete]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "document ended before its array closed"),
        (b"   ", "document ended before its array closed"),
        (b'{"Records": 5}', "document ended before its array closed"),
        (b'[{"a": 1}, {"b": 2}', "document ended before its array closed"),
        (b'["abc', "document ended inside a string"),
        (b'[1, "a\\"b', "document ended inside a string"),
        (b'{"Recor', "document ended inside a string"),
    ],
)
def test_truncation_messages(chunk: int, document: bytes, message: str) -> None:
    with pytest.raises(TruncatedJson) as info:
        list(iter_array_items(EndlessEofGuard(document)))
    assert str(info.value) == message


def test_elements_before_the_truncation_are_yielded_first(chunk: int) -> None:
    items = iter_array_items(EndlessEofGuard(b'[{"a": "x,]"}, [1, [2]], "q\\"", {"b":'))
    assert json.loads(next(items)) == {"a": "x,]"}
    assert json.loads(next(items)) == [1, [2]]
    assert json.loads(next(items)) == 'q"'
    with pytest.raises(TruncatedJson):
        next(items)


def test_empty_arrays_and_other_keys(chunk: int) -> None:
    assert _split(b"[]") == []
    assert _split(b"[ \n ]") == []
    assert _split(b'{"Records": []}') == []
    assert _split(b'{"meta": {"k": "[,]"}, "Records": [1, "two", {"3": [3]}]}') == [
        1,
        "two",
        {"3": [3]},
    ]
    assert _split(b'\xef\xbb\xbf["bom"]') == ["bom"]


# ----------------------------------------------------------------------------- lines


@PROPERTY
@given(
    rows=st.lists(
        st.tuples(JSON_VALUES, st.sampled_from([b"", b"\n", b"  \n", b"\r\n\t\n"])), max_size=8
    ),
    final_newline=st.booleans(),
)
def test_json_lines_split_with_their_line_numbers(
    chunk: int, rows: list[tuple[Any, bytes]], final_newline: bool
) -> None:
    out = bytearray()
    expected = []
    line = 0
    for value, blanks in rows:
        out += blanks  # blank lines count in the numbering but yield nothing
        line += blanks.count(b"\n")
        line += 1
        expected.append((line, value))
        out += json.dumps(value, ensure_ascii=False).encode() + b"\n"
    document = bytes(out) if final_newline else bytes(out).removesuffix(b"\n")
    got = [(n, json.loads(raw)) for n, raw in iter_lines(EndlessEofGuard(document))]
    assert got == expected
    # the same with part of the document read already
    cut = len(document) // 3
    got = [
        (n, json.loads(raw)) for n, raw in iter_lines(io.BytesIO(document[cut:]), document[:cut])
    ]
    assert got == expected


def test_lines_are_returned_raw_without_newlines(chunk: int) -> None:
    document = b'{"a": 1}\r\n\n   \n[2]\n"x"'
    assert list(iter_lines(io.BytesIO(document))) == [(1, b'{"a": 1}\r'), (4, b"[2]"), (5, b'"x"')]
    assert list(iter_lines(io.BytesIO(b""))) == []
    assert list(iter_lines(io.BytesIO(b"\n\n"))) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", None),
        (b" \t\r\n", None),
        (b"\xef\xbb\xbf", None),
        (b"\xef\xbb\xbf  {", ord("{")),
        (b"\n [1]", ord("[")),
        (b"x", ord("x")),
    ],
)
def test_first_byte(data: bytes, expected: int | None) -> None:
    assert first_byte(data) == expected
