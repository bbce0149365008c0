"""GuardDuty decoding: the three shapes and their envelopes, per-record errors, property tests."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.batch import DeltaBuffer
from graph.model import FINDING, VertexRef
from loaders.cloudtrail import FileError, RecordError, Skipped
from loaders.geo import default_index
from loaders.guardduty import Finding, Item, read_findings
from loaders.guardduty_graph import stage_finding
from loaders.ip_refs import IpRefs


def finding(fid: str = "f1", **extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": "2.0",
        "id": fid,
        "type": "Recon:IAMUser/UserPermissions",
        "accountId": "111122223333",
        "region": "us-east-1",
        "arn": f"arn:aws:guardduty:us-east-1:111122223333:detector/d/finding/{fid}",
        "createdAt": "2024-05-01T10:00:00.000Z",
        "updatedAt": "2024-05-01T11:00:00.000Z",
        "severity": 5,
        "title": "t",
        # loaders.detect needs `resource` to recognize a camelCase finding file
        "resource": {"resourceType": "Other"},
        **extra,
    }


def pascal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v) for v in value]
    return value


def items(data: bytes | str) -> list[Item]:
    return list(read_findings(io.BytesIO(data.encode() if isinstance(data, str) else data)))


def found(data: bytes | str) -> list[tuple[str, Finding]]:
    return [i for i in items(data) if isinstance(i, tuple)]


def errors(data: bytes | str) -> list[RecordError]:
    return [i for i in items(data) if isinstance(i, RecordError)]


def envelopes(f: dict[str, Any]) -> dict[str, str]:
    """The same finding in every accepted shape."""
    bridge = {"detail-type": "GuardDuty Finding", "id": "evt", "source": "aws.guardduty"}
    return {
        "single": json.dumps(f),
        "array": json.dumps([f]),
        "jsonl": json.dumps(f) + "\n" + '{"findings":[]}\n',
        "eventbridge": json.dumps({**bridge, "detail": f}),
        "api": json.dumps({"Findings": [pascal(f)]}),
        "panther": json.dumps({"log_type": "AWS.GuardDuty", "log": f}) + "\n",
    }


def test_every_shape_gives_the_same_finding() -> None:
    f = finding(service={"count": 3, "archived": True, "additionalInfo": {"sample": True}})
    decoded = {shape: found(text) for shape, text in envelopes(f).items()}
    assert {shape: [w for w, _ in got] for shape, got in decoded.items()} == {
        "single": ["record 0"],
        "array": ["record 0"],
        "jsonl": ["line 1"],
        "eventbridge": ["record 0"],
        "api": ["record 0"],
        "panther": ["record 0"],
    }
    assert len({repr(got[0][1]) for got in decoded.values()}) == 1


def test_api_additional_info_value_carries_sample() -> None:
    f = finding(service={"additionalInfo": {"value": '{"sample":true}', "type": "default"}})
    ((_, got),) = found(json.dumps({"Findings": [pascal(f)]}))
    assert got.service is not None and got.service.additionalInfo == {
        "value": '{"sample":true}',
        "type": "default",
    }


@pytest.mark.parametrize("text", ['{"findings":[]}', '{"Findings": []}', "[]"])
def test_empty_lists_are_empty_input(text: str) -> None:
    assert items(text) == []


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (["severity"], "missing required field severity"),
        (["id", "type"], "missing required field id, type"),
        (["accountId"], "missing required field accountId"),
        (["updatedAt"], "missing required field updatedAt"),
    ],
)
def test_a_missing_required_field_fails_that_record_only(drop: list[str], message: str) -> None:
    bad = {k: v for k, v in finding("bad").items() if k not in drop}
    text = "\n".join(json.dumps(x) for x in (finding("a"), bad, finding("c")))
    assert [w for w, _ in found(text)] == ["line 1", "line 3"]
    assert errors(text) == [RecordError("line 2", message)]


def test_wrong_types_and_bad_times_name_the_field() -> None:
    text = "\n".join(
        json.dumps(x)
        for x in (
            finding(severity="high"),
            finding(createdAt="yesterday"),
            finding(service={"count": "many"}),
        )
    )
    got = [(e.where, e.message.rsplit(" - ", 1)[-1]) for e in errors(text)]
    assert got[0] == ("line 1", "at `$.severity`")
    assert got[1][0] == "line 2" and got[1][1].startswith("createdAt: ")
    assert got[2] == ("line 3", "at `$.service.count`")


def test_non_findings_are_skipped_and_malformed_lines_are_errors() -> None:
    text = json.dumps(finding()) + '\n{"hello": 1}\n{not json\n'
    got = items(text)
    assert isinstance(got[0], tuple)
    assert got[1] == Skipped("line 2", "no GuardDuty finding in this record")
    assert isinstance(got[2], RecordError) and got[2].where == "line 3"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"  \n", "blank file"),
        (b"hello", "not JSON"),
        (b'{"id": "x', "truncated"),
    ],
)
def test_unusable_files_are_file_errors(data: bytes, message: str) -> None:
    with pytest.raises(FileError, match=message):
        items(data)


# ---------------------------------------------------------------- property tests

_text = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)
_time = st.integers(1_500_000_000, 1_800_000_000).map(
    lambda t: f"{dt.datetime.fromtimestamp(t, dt.UTC):%Y-%m-%dT%H:%M:%S.000Z}"
)
_findings = st.builds(
    lambda fid, kind, sev, title, created, updated, count, archived, sample, ip: finding(
        fid,
        type=kind,
        severity=sev,
        title=title,
        createdAt=created,
        updatedAt=updated,
        service={
            "count": count,
            "archived": archived,
            "additionalInfo": {} if sample is None else {"sample": sample},
            "action": {"awsApiCallAction": {"remoteIpDetails": {"ipAddressV4": ip}}},
        },
    ),
    _text,
    _text,
    st.floats(0, 10, allow_nan=False).map(lambda x: round(x, 1)),
    _text,
    _time,
    _time,
    st.integers(1, 10_000),
    st.booleans(),
    st.none() | st.booleans(),
    st.ip_addresses(v=4).map(str),
)


def finding_props(data: str) -> dict[str, Any]:
    buf = DeltaBuffer()
    got = found(data)
    ips = IpRefs(default_index(), {"8.8.8.8"})
    for _, f in got:
        stage_finding(buf, f, ips)
    batch = buf.take("g", [])
    (vertex,) = [v for v in batch.vertices if v.ref == VertexRef(FINDING, got[0][1].id or "")]
    return {"first": vertex.first, "last": vertex.last, **vertex.props}


@settings(max_examples=60, deadline=None)
@given(_findings)
def test_round_trip_through_every_envelope_gives_the_same_props(f: dict[str, Any]) -> None:
    props = [finding_props(text) for text in envelopes(f).values()]
    assert all(p == props[0] for p in props)
    assert props[0]["severity"] == float(f["severity"]) and props[0]["type"] == f["type"]
    assert props[0]["count"] == f["service"]["count"]
    assert props[0].get("sample") == f["service"]["additionalInfo"].get("sample")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_findings, min_size=2, max_size=6),
    st.data(),
)
def test_corrupting_one_record_fails_only_that_record(
    batch: list[dict[str, Any]], data: st.DataObject
) -> None:
    victim = data.draw(st.integers(0, len(batch) - 1))
    how = data.draw(st.sampled_from(["truncate", "drop", "mistype"]))
    lines = [json.dumps(f) for f in batch]
    if how == "truncate":
        lines[victim] = lines[victim][: data.draw(st.integers(1, len(lines[victim]) - 1))]
    elif how == "drop":
        field = data.draw(st.sampled_from(["id", "type", "accountId", "severity", "updatedAt"]))
        lines[victim] = json.dumps({k: v for k, v in batch[victim].items() if k != field})
    else:
        lines[victim] = json.dumps({**batch[victim], "severity": {"level": "high"}})
    got = items("\n".join(lines) + "\n")
    errs = [i for i in got if isinstance(i, RecordError)]
    ok = [i for i in got if isinstance(i, tuple)]
    skipped = [i for i in got if isinstance(i, Skipped)]
    # a truncation can leave valid JSON that is no finding (e.g. "{}" - skipped) or a number
    assert len(errs) + len(skipped) == 1
    assert [w for w, _ in ok] == [f"line {i + 1}" for i in range(len(batch)) if i != victim]
    assert (errs or skipped)[0].where == f"line {victim + 1}"
