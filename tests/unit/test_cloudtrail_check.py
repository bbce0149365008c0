"""CloudTrailDeltas.check (routed loads ask it about events no graph takes) must accept exactly
the events add_all stages, and reject the others with add_all's error message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.cloudtrail import Event, delivery_items
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from tests.unit.test_delivery_fast_path import _real_deliveries, _records

_broken = st.fixed_dictionaries(
    {},
    optional={
        "userIdentity": st.sampled_from([{"type": 5}, {"type": "AssumedRole", "arn": 7}, "x"]),
        "requestParameters": st.sampled_from(['{"bucketName": 3}', "not json", 4, [1]]),
        "responseElements": st.sampled_from(
            [{"assumedRoleUser": 5}, {"instancesSet": {"items": 3}}, "{bad"]
        ),
        "eventTime": st.sampled_from(["2024-02-30T00:00:00Z", "2024-03-01T10:00:00+02:00"]),
    },
)


def _verdicts(items: list[Any]) -> tuple[list[bool], list[str], list[bool], list[str]]:
    staged_errors: list[str] = []
    checked_errors: list[str] = []
    staged, checked = [], []
    principals = Principals()
    for i, ev in enumerate(items):
        assert isinstance(ev, Event)
        before = len(staged_errors)
        CloudTrailDeltas(principals).add_all([ev], "111122223333", staged_errors, None, i)
        staged.append(len(staged_errors) == before)
        checked.append(
            CloudTrailDeltas(principals).check(ev, "111122223333", checked_errors, None, i)
        )
    return staged, staged_errors, checked, checked_errors


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(
        st.tuples(_records, _broken).map(lambda pair: {**pair[0], **pair[1]}),
        min_size=1,
        max_size=10,
    )
)
def test_check_agrees_with_add_all(records: list[dict[str, Any]]) -> None:
    usable = [r for r in records if r.get("eventName") and r.get("eventTime") != ""]
    items = delivery_items(json.dumps({"Records": usable}).encode()) if usable else []
    assert items is not None
    events = [ev for ev in items if isinstance(ev, Event)]
    staged, staged_errors, checked, checked_errors = _verdicts(events)
    assert checked == staged
    assert checked_errors == staged_errors


@pytest.mark.parametrize("path", _real_deliveries()[:20], ids=lambda p: p.name)
def test_check_agrees_with_add_all_on_real_events(path: Path) -> None:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        import gzip

        data = gzip.decompress(data)
    items = delivery_items(data)
    assert items is not None
    staged, staged_errors, checked, checked_errors = _verdicts(
        [ev for ev in items if isinstance(ev, Event)]
    )
    assert checked == staged and checked_errors == staged_errors


def test_some_generated_events_are_rejected() -> None:
    """The property above compares something: add_all does reject such events."""
    bad = {"eventTime": "2024-02-30T00:00:00Z", "eventName": "ListBuckets", "eventSource": "s3"}
    (ev,) = delivery_items(json.dumps({"Records": [bad]}).encode()) or []
    assert isinstance(ev, Event)
    staged, staged_errors, checked, _ = _verdicts([ev])
    assert staged == checked == [False] and "out of range" in staged_errors[0]
