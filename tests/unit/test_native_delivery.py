"""The native core's reader of delivery objects (loaders/native/src/delivery.rs) against the
Python path: whatever it accepts must stage exactly what Python stages, and whatever is not
valid JSON, or not typed as the loader reads it, must be declined so that Python reports it.
Generated documents vary whitespace, escapes, numbers, nesting and field types, and are then
corrupted byte by byte; userIdentity texts that share their first bytes stay distinct."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.cloudtrail_native import BUILT
from loaders.objects import ObjectResult
from tests.unit.test_delivery_fast_path import _staged
from tests.unit.test_native_staging import _delivery, _event

pytestmark = pytest.mark.skipif(not BUILT, reason="the native core is not built (no Rust)")


def _compare(path: Path) -> bool:
    """Read `path` with the core and with Python alone; both must agree. Returns whether the
    core staged it."""
    core, c_vertices, c_edges, _, by_core = _staged(path, True)
    python, p_vertices, p_edges, _, by_python = _staged(path, False)
    assert not by_python
    for name in ObjectResult.__slots__:  # type: ignore[attr-defined]
        assert getattr(core, name) == getattr(python, name), name
    assert (c_vertices, c_edges) == (p_vertices, p_edges)
    return by_core


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "delivery.json"
    path.write_bytes(data)
    return path


VALID = {
    "whitespace everywhere": json.dumps({"Records": [_event()]}, indent=2).encode(),
    "tabs and CR": b'{\t"Records"\r\n:\t[ '
    + json.dumps(_event(), separators=(" ,", ": ")).encode()
    + b" ]\r\n}\n",
    "escaped strings": _delivery(
        _event(userAgent='a "quoted" \\ agent\n\u00e9\U0001f600', awsRegion="eu-west-1")
    ).replace(b"eu-west-1", b"eu-\\u0077est-1"),
    "non-ASCII kept as is": json.dumps(
        {"Records": [_event(userAgent="agent \u2603 \U0001f600")]}, ensure_ascii=False
    ).encode(),
    "every kind of value": _delivery(
        _event(
            extra=[0, 1.5, True, False, None, "", {}, [], {"a": [{}]}, '\\"\u0001'],
            responseElements={"x": [1, {"y": None}]},
            requestParameters=None,
        )
    ).replace(b'"extra": [', b'"extra": [-0, 0.0, -2e-3, 1E10, 3.0e+2, 12, -9007199254740993, '),
    "other top-level keys": b'{"a": [1, {"b": null}], "Records": ['
    + json.dumps(_event()).encode()
    + b'], "c": "d"}',
    "no records": b'{"Records": []}',
    "empty record": b'{"Records": [{}]}',
    "null fields": _delivery(_event(userAgent=None, errorCode=None, sourceIPAddress=None)),
    # the first account is the first record's with one (the region, without one, the last's)
    "first record without an account": _delivery(
        _event(userIdentity=None, recipientAccountId=None), _event(awsRegion="us-west-2")
    ),
    "an account first in a record left to Python": _delivery(
        _event(userIdentity=None, recipientAccountId=None),
        _event(eventName="AssumeRole", eventSource="sts.amazonaws.com", awsRegion="ap-south-1"),
        _event(awsRegion="us-west-2"),
    ),
    "no account anywhere": _delivery(
        _event(userIdentity=None, recipientAccountId=None),
        _event(userIdentity=None, recipientAccountId=None, awsRegion="us-west-2"),
    ),
    "escaped keys": _delivery(_event(eventVersion="1.08")).replace(
        b'"eventName"', b'"event\\u004eame"'
    ),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_documents_are_read_by_the_core(tmp_path: Path, name: str) -> None:
    data = VALID[name]
    json.loads(data)  # (valid JSON)
    staged_by_core = _compare(_write(tmp_path, data))
    assert staged_by_core == (b"eventSource" in data)  # (nothing to stage otherwise)


def _with(record: bytes) -> bytes:
    return b'{"Records": [' + record + b"]}"


RECORD = json.dumps(_event()).encode()
DECLINED = {
    "leading zero": _with(RECORD[:-1] + b', "n": 01}'),
    "bare minus": _with(RECORD[:-1] + b', "n": -}'),
    "dot without digits": _with(RECORD[:-1] + b', "n": 1.}'),
    "exponent without digits": _with(RECORD[:-1] + b', "n": 1e+}'),
    "plus sign": _with(RECORD[:-1] + b', "n": +1}'),
    "trailing comma in object": _with(RECORD[:-1] + b", }"),
    "trailing comma in array": _with(RECORD[:-1] + b', "a": [1,]}'),
    "single quotes": _with(RECORD[:-1] + b", \"a\": 'x'}"),
    "bad escape": _with(RECORD[:-1] + b', "a": "\\x"}'),
    "short unicode escape": _with(RECORD[:-1] + b', "a": "\\u12"}'),
    "raw control character": _with(RECORD[:-1] + b', "a": "x\ty"}'),
    "lone surrogate in a field": _with(
        json.dumps(_event(userAgent="X")).encode().replace(b'"X"', b'"\\ud800"')
    ),
    "field twice": _with(RECORD[:-1] + b', "eventName": "Other"}'),
    "wrong type": _with(json.dumps(_event(eventName=5)).encode()),
    "field twice, escaped": _with(RECORD[:-1] + b', "event\\u004eame": "Other"}'),
    "escaped top-level key": b'{"Rec\\u006frds": [' + RECORD + b"]}",
    "record not an object": _with(b'["a"]'),
    "Records twice": b'{"Records": [], "Records": []}',
    "Records null": b'{"Records": null}',
    "no Records": b'{"records": []}',
    "trailing text": _delivery(_event()) + b" x",
    "two documents": _delivery(_event()) + _delivery(_event()),
    "truncated": _delivery(_event())[:-1],
    "deep nesting": _with(RECORD[:-1] + b', "a": ' + b"[" * 120 + b"]" * 120 + b"}"),
    "unquoted literal": _with(RECORD[:-1] + b', "a": nul}'),
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_what_is_not_valid_or_not_typed_is_left_to_python(tmp_path: Path, name: str) -> None:
    assert not _compare(_write(tmp_path, DECLINED[name]))


def _identity(n: int, tail: str) -> dict[str, Any]:
    # IAM users whose texts all share their first 64 bytes
    return {
        "type": "IAMUser",
        "principalId": f"AIDAEXAMPLEPRINCIPALWITHALONGCOMMONPREFIX{n}",
        "arn": f"arn:aws:iam::111122223333:user/user-{n}",
        "accountId": "111122223333",
        "accessKeyId": f"AKIA{tail}",
        "userName": f"user-{n}",
    }


def test_identities_sharing_their_first_bytes_stay_distinct(tmp_path: Path) -> None:
    records = [
        _event(userIdentity=_identity(n, tail), eventTime=f"2024-03-01T1{n}:00:0{k}Z")
        for k, (n, tail) in enumerate([(1, "A"), (2, "A"), (1, "B"), (1, "A"), (2, "A")])
    ]
    assert len({json.dumps(r["userIdentity"])[:64] for r in records}) == 1
    path = _write(tmp_path, _delivery(*records))
    assert _compare(path)
    _, vertices, _, _, _ = _staged(path, True)
    assert any("user/user-1" in v for v in vertices)
    assert any("user/user-2" in v for v in vertices)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_strings = st.sampled_from(
    ["2024-03-01T10:00:07Z", "s3.amazonaws.com", "GetObject", "AssumeRole", "", 'é\U0001f600\\"']
)
_field_values = st.one_of(_strings, st.none(), _json)
_known = st.sampled_from(
    [
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "recipientAccountId",
        "userIdentity",
        "requestParameters",
        "responseElements",
    ]
)


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    records = []
    for _ in range(draw(st.integers(1, 4))):
        record: dict[str, Any] = _event()
        for key in draw(st.lists(_known, max_size=3)):
            record[key] = draw(_field_values)
        for key, value in draw(st.dictionaries(st.text(max_size=6), _json, max_size=3)).items():
            record.setdefault(key, value)
        records.append(record)
    doc: dict[str, Any] = {"Records": records}
    if draw(st.booleans()):
        doc["other"] = draw(_json)
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]))
    text = json.dumps(doc, separators=separators, ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    edit = draw(
        st.one_of(
            st.none(),
            st.tuples(
                st.integers(0, len(data) - 1), st.sampled_from(list(b'{}[]",:\\0-.eE \t\nxu'))
            ),
            st.integers(1, len(data) - 1),
        )
    )
    if isinstance(edit, tuple):  # one byte replaced by a JSON-significant one
        at, byte = edit
        data = data[:at] + bytes([byte]) + data[at + 1 :]
    elif isinstance(edit, int):  # truncated
        data = data[:edit]
    return data


@settings(max_examples=300, deadline=None)
@given(data=_documents())
def test_generated_documents_read_as_python_reads_them(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    _compare(_write(tmp_path_factory.mktemp("doc"), data))
