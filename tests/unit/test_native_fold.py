"""The native core folds a batch's tuples (loaders/native/src/fold.rs) exactly as
`CloudTrailDeltas._fold` does: the same vertices and edges, in the same order (a vertex's FIRST
properties follow it), with the same hours in the same order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.batch import DeltaBuffer, WriteBatch
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.cloudtrail_native import BUILT, stage_delivery
from loaders.geo import default_index
from tests.unit.test_delivery_fast_path import GRAPH, SESSION, _records
from tests.unit.test_native_staging import _event

pytestmark = pytest.mark.skipif(not BUILT, reason="the native core is not built (no Rust)")

# spellings of one address, a service name, empty and absent: what the address table decides
_ADDRESSES = st.sampled_from(
    ["2001:db8::1", "2001:DB8:0::1", "198.51.100.7", "ec2.amazonaws.com", "", None, "::ffff:1"]
)
_record = st.tuples(_records, st.none() | _ADDRESSES).map(
    lambda pair: pair[0] if pair[1] is None else {**pair[0], "sourceIPAddress": pair[1]}
)


def _expanded(files: list[list[dict[str, Any]]], native: bool) -> tuple[WriteBatch, int]:
    """The batch of the delivery objects, expanded by the core's fold or by Python's; and how
    many tuples the core held before the fold."""
    deltas, errors = CloudTrailDeltas(Principals()), []
    for records in files:
        stage_delivery(deltas, json.dumps({"Records": records}).encode(), None, errors)
    held = len(deltas.native) if deltas.native is not None else 0
    if not native:
        deltas.drain_native()  # the tuples in Python: expand folds them there
    out = DeltaBuffer()
    deltas.expand(out, default_index())
    assert deltas.native is None or len(deltas.native) == 0
    return out.take(GRAPH, []), held


def _same(files: list[list[dict[str, Any]]]) -> int:
    core, held = _expanded(files, True)
    python, _ = _expanded(files, False)
    assert [repr(v) for v in core.vertices] == [repr(v) for v in python.vertices]
    assert [repr(e) for e in core.edges] == [repr(e) for e in python.edges]
    assert [list(e.hours) for e in core.edges] == [list(e.hours) for e in python.edges]
    return held


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_record, min_size=1, max_size=12), min_size=1, max_size=4))
def test_the_core_folds_as_expand_does(files: list[list[dict[str, Any]]]) -> None:
    _same(files)


def test_a_session_and_its_rollups() -> None:
    # one session over three hours from two spellings of one address, two agents, a bucket:
    # every edge counted for the session, its role and its account
    records = [
        _event(
            userIdentity=SESSION,
            eventTime=f"2024-03-01T1{h}:0{m}:00Z",
            sourceIPAddress=("2001:db8::1", "2001:DB8:0::1")[m % 2],
            userAgent=("aws-cli/2", "boto3/1")[h % 2],
            eventSource="s3.amazonaws.com",
            eventName="GetObject",
            requestParameters={"bucketName": "logs"},
            **({"errorCode": "AccessDenied"} if m == 3 else {}),
        )
        for h in range(3)
        for m in range(4)
    ]
    assert _same([records[:5], records[5:]]) > 0
    core, _ = _expanded([records], True)
    called = [e for e in core.edges if e.label == "CALLED"]
    # two qualifiers (the address as given) x three targets (session, role, account)
    assert len(called) == 6
    assert sum(c[0] for e in called for c in e.hours.values()) == 3 * 9
    assert sum(c[1] for e in called for c in e.hours.values()) == 3 * 3
    used_ip = [e for e in core.edges if e.label == "USED_IP"]
    assert len(used_ip) == 3 and {e.dst.key for e in used_ip} == {"2001:db8::1"}
    buckets = [e for e in core.edges if e.label == "ACCESSED_BUCKET"]
    assert {(e.dst.key, e.qualifier) for e in buckets} == {("logs", "GetObject")}
