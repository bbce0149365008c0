"""An S3 delivery object takes a short path through `read_object`: the native core
(loaders/cloudtrail_native.py) or, without it, one typed decode and no stream plumbing. Either
must stage exactly what the general path stages for the same content: the same counts, errors
and first account, and the same vertices and hourly edges once expanded."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loaders.objects as objects
from graph.batch import DeltaBuffer
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.cloudtrail_native import BUILT
from loaders.geo import default_index
from loaders.objects import ObjectResult, read_object
from loaders.sources import iter_objects
from tests.unit.test_cloudtrail_read import ALICE, DATASETS

NEEDS_CORE = pytest.mark.skipif(not BUILT, reason="the native core is not built (no Rust)")
GRAPH = "arn:aws:detective:us-east-1:111122223333:graph:" + "d" * 32
SESSION = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEROLE:s1",
    "arn": "arn:aws:sts::111122223333:assumed-role/ops/s1",
    "accountId": "111122223333",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLEROLE",
            "arn": "arn:aws:iam::111122223333:role/ops",
            "accountId": "111122223333",
            "userName": "ops",
        }
    },
}


def _record(
    name: str, source: str, minute: int, who: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": who,
        "eventTime": f"2024-03-0{1 + minute % 2}T1{minute % 10}:{minute:02d}:07Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": ["198.51.100.7", "10.0.0.1", "ec2.amazonaws.com", "2001:db8::1"][
            minute % 4
        ],
        "userAgent": "aws-cli/2.13.0" if minute % 3 else None,
        "recipientAccountId": "111122223333",
    }
    record.update(extra)
    return {k: v for k, v in record.items() if v is not None}


_records = st.builds(
    _record,
    name=st.sampled_from(
        ["ListBuckets", "GetObject", "CreateBucket", "AssumeRole", "RunInstances"]
    ),
    source=st.sampled_from(["s3.amazonaws.com", "sts.amazonaws.com", "ec2.amazonaws.com"]),
    minute=st.integers(0, 59),
    # (null, an unusable identity, one with escaped characters)
    who=st.sampled_from(
        [ALICE, SESSION, {}, None, {"type": 5}, {"type": "IAMUser", "principalId": "AIDA\u00e9"}]
    ),
    extra=st.fixed_dictionaries(
        {},
        optional={
            "errorCode": st.sampled_from(["AccessDenied", ""]),
            "requestParameters": st.sampled_from(
                [
                    {"bucketName": "logs-bucket"},
                    {"roleArn": SESSION["arn"]},
                    None,
                    {"bucketName": ""},
                    {"bucketName": 5},  # a record error
                    {"bucketName": "b\u00fccket", "key": {"nested": [1, 2.5e3, True]}},
                    '{"bucketName": "as-a-string"}',  # a body stored as a JSON string
                ]
            ),
            "responseElements": st.sampled_from(
                [
                    {
                        "credentials": {"accessKeyId": "ASIAEXAMPLE"},
                        "assumedRoleUser": {
                            "assumedRoleId": "AROAEXAMPLEROLE:s2",
                            "arn": "arn:aws:sts::111122223333:assumed-role/ops/s2",
                        },
                    },
                    None,
                ]
            ),
            "eventTime": st.sampled_from(
                [
                    "",
                    "2024-03-01T10:00:00.250Z",
                    "yesterday",
                    "2024-03-01T10:59:60Z",  # a leap second
                    "2024-02-30T10:00:00Z",  # no such day
                    "2024-03-01 10:00:00",
                ]
            ),
            "@timestamp": st.sampled_from(["2024-03-01T09:00:00Z"]),
            "eventName": st.sampled_from([""]),
            "userAgent": st.sampled_from(['agent \u2603 "quoted"\n', ""]),
            "sourceIPAddress": st.sampled_from(["", None]),
        },
    ),
)


def _staged(path: Path, native: bool) -> tuple[ObjectResult, list[str], list[str], int, bool]:
    """Read one file and expand what it staged: (result, vertices, edges, general-path calls,
    whether the native core staged tuples)."""
    calls = 0
    general = objects._read

    def counting(*args: Any) -> None:
        nonlocal calls
        calls += 1
        general(*args)

    objects._read = counting
    enabled, objects.NATIVE = objects.NATIVE, native
    try:
        (obj,) = list(iter_objects([str(path)]))
        deltas = CloudTrailDeltas(Principals())
        result = read_object(obj, deltas, None)
    finally:
        objects._read = general
        objects.NATIVE = enabled
    staged_natively = deltas.native is not None and len(deltas.native) > 0
    return (result, *expanded(deltas), calls, staged_natively)


def expanded(deltas: CloudTrailDeltas) -> tuple[list[str], list[str]]:
    """What `deltas` staged, expanded: its vertices and edges, each sorted."""
    out = DeltaBuffer()
    deltas.expand(out, default_index())
    batch = out.take(GRAPH, [])
    return (
        sorted(map(repr, batch.vertices)),
        # (an edge's hours in hour order: the order they were counted in is not part of it)
        sorted(repr(replace(e, hours=dict(sorted(e.hours.items())))) for e in batch.edges),
    )


def _same(fast: Path, general: Path, native: bool) -> bool:
    """Whether the native core staged the short path's tuples, once both paths agree."""
    a, a_vertices, a_edges, a_calls, a_native = _staged(fast, native)
    b, b_vertices, b_edges, b_calls, b_native = _staged(general, native)
    assert not b_native  # the general path is Python's
    assert (a_calls, b_calls) == (0, 1)  # each took the path it is meant to
    for name in ObjectResult.__slots__:  # type: ignore[attr-defined]
        if name not in ("version", "size"):  # (the general copy has one byte more)
            assert getattr(a, name) == getattr(b, name), name
    assert a_vertices == b_vertices
    assert a_edges == b_edges
    return a_native


# the short path with the native core, and without it (Python's typed decode)
PATHS = [pytest.param(True, id="native", marks=NEEDS_CORE), pytest.param(False, id="python")]


@settings(max_examples=80, deadline=None)
@given(records=st.lists(_records, min_size=1, max_size=12), gz=st.booleans())
def test_generated_deliveries_stage_as_the_general_path_does(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]], gz: bool
) -> None:
    root = tmp_path_factory.mktemp("delivery")
    text = json.dumps({"Records": records}).encode()
    # a leading newline: the same document, which the short path leaves to the general one
    for name, data in (("fast.json", text), ("general.json", b"\n" + text)):
        (root / name).write_bytes(gzip.compress(data) if gz else data)
    for native in (True, False) if BUILT else (False,):
        _same(root / "fast.json", root / "general.json", native)


def _real_deliveries() -> list[Path]:
    found = []
    for path in sorted(DATASETS.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".gz"):
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if data[:11] == b'{"Records":':
                found.append(path)
    return found


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("path", _real_deliveries(), ids=lambda p: str(p.relative_to(DATASETS)))
def test_real_deliveries_stage_as_the_general_path_does(
    tmp_path: Path, path: Path, native: bool
) -> None:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    (tmp_path / "fast.json").write_bytes(data)
    (tmp_path / "general.json").write_bytes(b"\n" + data)
    assert _same(tmp_path / "fast.json", tmp_path / "general.json", native) == native


def test_real_deliveries_are_found() -> None:
    assert len(_real_deliveries()) >= 3
