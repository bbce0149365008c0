"""The native core (loaders/native, Rust) through loaders/cloudtrail_native.py: what it declines
leaves nothing staged, unusable identities send the object to Python, the switch and the build
are honoured, and a whole load exports the same graph with and without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import loaders.objects as objects
from graph.sqlite import SqliteStore
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.cloudtrail_native import BUILT, stage_delivery
from loaders.pipeline import Loader
from tests.conftest import DATA
from tests.integration.helpers import load_and_export
from tests.unit.test_cloudtrail_read import ALICE

pytestmark = pytest.mark.skipif(not BUILT, reason="the native core is not built (no Rust)")


def _delivery(*records: dict[str, Any]) -> bytes:
    return json.dumps({"Records": list(records)}).encode()


def _event(**fields: Any) -> dict[str, Any]:
    return {
        "eventTime": "2024-03-01T10:00:07Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "userIdentity": ALICE,
        "recipientAccountId": "111122223333",
        **fields,
    }


def _stage(data: bytes) -> tuple[Any, CloudTrailDeltas, list[str]]:
    deltas = CloudTrailDeltas(Principals())
    errors: list[str] = []
    return stage_delivery(deltas, data, None, errors), deltas, errors


def test_ci_builds_the_core() -> None:
    # CI must measure and test what users run: the extension built from loaders/native
    if os.environ.get("CI") == "true":
        assert BUILT


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_delivery(_event()) + b"\xff", id="invalid UTF-8"),
        pytest.param(_delivery(_event(eventName=5)), id="wrong type"),
        pytest.param(_delivery(_event())[:-2], id="truncated"),
        pytest.param(b'{"records": []}', id="no Records"),
        pytest.param(b'{"Records": [], "Records": []}', id="Records twice"),
        pytest.param(b'{"Records": null}', id="Records null"),
        pytest.param(b"[" + _delivery(_event()) + b"]", id="not an object"),
        pytest.param(_delivery(_event(), _event(userIdentity={"type": 5})), id="bad identity"),
    ],
)
def test_what_the_core_declines_leaves_nothing_staged(data: bytes) -> None:
    # a first object stays staged; the declined one adds nothing to it
    staged, deltas, _ = _stage(_delivery(_event()))
    assert staged is not None and staged.loaded == 1
    assert deltas.native is not None and len(deltas.native) == 1
    errors: list[str] = []
    assert stage_delivery(deltas, data, None, errors) is None
    assert errors == []
    assert len(deltas.native) == 1 and deltas.events == 1
    ((*_, n, first, last),) = deltas.native.drain()
    assert (n, first, last) == (1, 1709287207, 1709287207)


def test_an_unusable_identity_is_reported_by_the_python_path(tmp_path: Path) -> None:
    path = tmp_path / "delivery.json"
    path.write_bytes(_delivery(_event(), _event(userIdentity={"type": 5})))
    store = SqliteStore(tmp_path / "g.db")
    report = Loader(store).load([str(path)])
    assert (report.records, report.loaded, report.record_errors) == (2, 1, 1)
    (error,) = report.errors
    assert "record 1: userIdentity:" in error


def test_records_the_core_leaves_to_python() -> None:
    staged, deltas, errors = _stage(
        _delivery(
            _event(),  # counted by the core
            _event(eventName="AssumeRole", eventSource="sts.amazonaws.com"),  # relationship
            _event(eventTime="2024-03-01 10:00:09"),  # another time format
            _event(eventName=""),  # missing field: a record error
            _event(eventSource="s3.amazonaws.com", requestParameters={"bucketName": "b"}),
        )
    )
    assert staged is not None
    assert (staged.records, staged.loaded, staged.first_account) == (5, 4, "111122223333")
    assert errors == ["record 3: missing required field eventName"]
    assert deltas.events == 4
    assert deltas.native is not None
    # (eventSource, eventName, bucketName) -> (count, first, last); the Python-staged records
    # join the core's tuples (the other time format counts into the first record's)
    rows = {(r[3], r[4], r[7]): r[-3:] for r in deltas.native.drain()}
    assert rows == {
        ("ec2.amazonaws.com", "DescribeInstances", None): (2, 1709287207, 1709287209),
        ("sts.amazonaws.com", "AssumeRole", None): (1, 1709287207, 1709287207),
        ("s3.amazonaws.com", "DescribeInstances", "b"): (1, 1709287207, 1709287207),
    }


def test_the_switch_turns_the_core_off() -> None:
    probe = "import loaders.cloudtrail_native as n; print(n.BUILT, n.ENABLED)"
    for value, expected in (("0", "True False"), ("1", "True True")):
        env = {**os.environ, "GUMSHOE_NATIVE": value}
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected


def _export(tmp_path: Path, name: str, native: bool) -> str:
    enabled, objects.NATIVE = objects.NATIVE, native
    try:
        return load_and_export(tmp_path / f"{name}.db", [DATA / "datasets"])
    finally:
        objects.NATIVE = enabled


def test_the_sample_data_exports_the_same_graph_with_and_without_the_core(
    tmp_path: Path,
) -> None:
    native, python = _export(tmp_path, "native", True), _export(tmp_path, "python", False)
    assert native.count("\n") > 1000
    assert native == python
