"""VPC flow parsing and staging: formats, header lines, shapes, malformed fields (properties)."""

from __future__ import annotations

import io
import json
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.objects import ObjectResult
from loaders.sources import SourceObject
from loaders.vpcflow import (
    CANONICAL,
    DEFAULT_FORMAT,
    REQUIRED,
    Chunk,
    FlowFormatError,
    parse_format,
    read_flows,
)
from loaders.vpcflow_graph import stage_flow_file

KEY = "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/03/05/f.log"


def stage(
    data: bytes, flow_format: str | None = None, uri: str = KEY
) -> tuple[ObjectResult, CloudTrailDeltas]:
    obj = SourceObject(uri, len(data), None, "", partial(io.BytesIO, data))
    res, deltas = ObjectResult(), CloudTrailDeltas(Principals())
    stage_flow_file(res, obj, deltas, io.BytesIO(data), flow_format)
    return res, deltas


def rows(data: bytes, flow_format: str | None = None) -> list[dict[str, bytes]]:
    out = []
    for item in read_flows(io.BytesIO(data), flow_format):
        if isinstance(item, Chunk):
            out += [dict(zip(item.fmt.fields, r, strict=True)) for r in item.rows if r]
    return out


def test_parse_format_accepts_aws_spellings_and_rejects_bad_lists() -> None:
    assert parse_format(DEFAULT_FORMAT).fields[:3] == ("version", "account-id", "interface-id")
    fmt = parse_format("${interface-id} ${srcaddr} ${dstaddr} ${start} ${packets} ${bytes}")
    assert fmt.fields == ("interface-id", "srcaddr", "dstaddr", "start", "packets", "bytes")
    assert parse_format("interface_id srcaddr dstaddr start packets bytes").fields[0] == (
        "interface-id"
    )
    with pytest.raises(FlowFormatError, match="unknown fields: colour"):
        parse_format(DEFAULT_FORMAT + " colour")
    with pytest.raises(FlowFormatError, match="repeated fields: srcaddr"):
        parse_format(DEFAULT_FORMAT + " srcaddr")
    with pytest.raises(FlowFormatError, match="missing required fields: bytes"):
        parse_format("interface-id srcaddr dstaddr start packets")
    with pytest.raises(FlowFormatError, match="no fields"):
        parse_format("  ")


LINE = (
    "2 111122223333 eni-0a1b2c3d4e5f60718 {src} {dst} 443 50000 6 3 {n} 1709640000 1709640060 "
    "ACCEPT OK"
)


def test_v2_without_header_and_with_flow_format() -> None:
    text = LINE.format(src="10.0.0.5", dst="192.0.2.1", n=100) + "\n"
    res, deltas = stage(text.encode())
    assert (res.records, res.loaded, res.errors) == (1, 1, [])
    ((key, row),) = deltas.flows.by_key().items()
    assert key == (
        "eni-0a1b2c3d4e5f60718",
        None,
        1709640000,
        "192.0.2.1",
        "6/443/50000/egress/ACCEPT",
    )
    assert row == [0, 100, 0, 3, 1, 1709640000, 1709640060]
    assert (res.first_account, res.first_region) == ("111122223333", "eu-west-1")
    # the same fields in another order, told by --flow-format
    fmt = "start end interface-id srcaddr dstaddr packets bytes"
    res, deltas = stage(b"1709640000 1709640060 eni-1 10.0.0.5 2001:DB8::1 1 64\n", fmt)
    assert res.errors == [] and list(deltas.flows.by_key()) == [
        ("eni-1", None, 1709640000, "2001:db8::1", "-/-/-/egress/-")
    ]


def test_a_malformed_field_rejects_its_record_only() -> None:
    lines = [LINE.format(src="10.0.0.5", dst=f"192.0.2.{i}", n=10) for i in range(4)]
    lines[2] = lines[2].replace(" 443 ", " 99999 ")
    lines.insert(1, "2 111122223333 eni-x")
    res, _ = stage("\n".join(lines).encode())
    assert res.errors == [
        "line 2: expected 14 fields, found 3",
        "line 4: field srcport: not a port number: '99999'",
    ]
    assert (res.records, res.loaded) == (5, 3)


def test_nodata_and_skipdata_are_counted_not_loaded() -> None:
    text = (
        "2 111122223333 eni-1 - - - - - - - 1709640000 1709640060 - NODATA\n"
        "2 111122223333 eni-1 - - - - - - - 1709640000 1709640060 - SKIPDATA\n"
        "2 111122223333 eni-1 - - - - - - - 1709640000 1709640060 - BROKEN\n"
    )
    res, deltas = stage(text.encode())
    assert (res.records, res.loaded, res.skipped) == (3, 0, 2)
    assert res.errors == ["line 3: field log-status: not OK, NODATA or SKIPDATA: 'BROKEN'"]
    assert not deltas.flows


def test_json_shapes_cribl_raw_lines_and_panther_records() -> None:
    header = {"_raw": DEFAULT_FORMAT, "source": KEY.replace("eu-west-1", "ap-south-1")}
    record = {"_raw": LINE.format(src="192.0.2.9", dst="10.0.0.5", n=7), "source": header["source"]}
    res, deltas = stage(json.dumps([header, record]).encode(), uri="capture.json")
    assert (res.records, res.loaded, res.skipped, res.errors) == (2, 1, 1, [])
    assert res.first_region == "ap-south-1"
    panther = [
        {"log": {"srcAddr": "1.1.1.1", "dstAddr": "10.0.0.1", "dstPort": 22}},
        {
            "log": {
                "interfaceId": "eni-9",
                "srcAddr": "10.0.0.1",
                "dstAddr": "8.8.8.8",
                "srcPort": 5000,
                "dstPort": 53,
                "protocol": 17,
                "start": "2024-03-05 12:00:00.000000000",
                "bytes": 80,
                "packets": 1,
                "flowDirection": "egress",
                "action": "ACCEPT",
            }
        },
        "not json {",
    ]
    text = "\n".join(json.dumps(p) if isinstance(p, dict) else p for p in panther)
    res, deltas = stage(text.encode(), uri="panther.jsonl")
    assert (res.records, res.loaded, res.skipped) == (3, 1, 1)
    assert res.errors[0].startswith("line 3: malformed JSON")
    assert list(deltas.flows.by_key()) == [
        ("eni-9", None, 1709640000, "8.8.8.8", "17/5000/53/egress/ACCEPT")
    ]


def test_direction_is_inferred_from_the_interface_address() -> None:
    # 10.0.0.5 is in every record of the interface: it is the interface, whatever the side
    lines = [
        LINE.format(src="192.0.2.1", dst="10.0.0.5", n=1),
        LINE.format(src="10.0.0.5", dst="198.51.100.2", n=2),
        LINE.format(src="10.0.0.5", dst="192.0.2.1", n=3),
    ]
    _, deltas = stage("\n".join(lines).encode())
    assert sorted((k[3], k[4].split("/")[3]) for k in deltas.flows.by_key()) == [
        ("192.0.2.1", "egress"),
        ("192.0.2.1", "ingress"),
        ("198.51.100.2", "egress"),
    ]
    # one pair only: the private address is the interface's
    _, deltas = stage(LINE.format(src="203.0.113.7", dst="10.0.0.5", n=1).encode())
    assert [k[4] for k in deltas.flows.by_key()] == ["6/50000/443/ingress/ACCEPT"]


# ---- properties ------------------------------------------------------------------------------

OPTIONAL = [f for f in CANONICAL if f not in REQUIRED]
_values = {
    "interface-id": st.from_regex(r"eni-[0-9a-f]{8,17}", fullmatch=True),
    "srcaddr": st.ip_addresses().map(str),
    "dstaddr": st.ip_addresses().map(str),
    "start": st.integers(1_500_000_000, 1_800_000_000),
    "packets": st.integers(0, 10**6),
    "bytes": st.integers(0, 10**12),
    "srcport": st.integers(0, 65535),
    "dstport": st.integers(0, 65535),
    "protocol": st.integers(0, 255),
    "action": st.sampled_from(["ACCEPT", "REJECT"]),
    "account-id": st.from_regex(r"[0-9]{12}", fullmatch=True),
    "flow-direction": st.sampled_from(["ingress", "egress"]),
    "log-status": st.just("OK"),
}


@st.composite
def flow_files(draw: st.DrawFn) -> tuple[list[str], list[dict[str, str]]]:
    extra = draw(st.lists(st.sampled_from(sorted(_values.keys() - set(REQUIRED))), unique=True))
    fields = draw(st.permutations([*REQUIRED, *extra]))
    records = draw(
        st.lists(st.fixed_dictionaries({f: _values[f].map(str) for f in fields}), max_size=20)
    )
    return fields, records


@settings(max_examples=200, deadline=None)
@given(flow_files())
def test_round_trip_any_field_order_with_a_header(
    case: tuple[list[str], list[dict[str, str]]],
) -> None:
    fields, records = case
    text = "\n".join([" ".join(fields)] + [" ".join(r[f] for f in fields) for r in records])
    parsed = rows(text.encode())
    assert [{k: v.decode() for k, v in r.items()} for r in parsed] == records
    res, deltas = stage(text.encode())
    assert (res.records, res.loaded, res.errors) == (len(records), len(records), [])
    assert sum(row[0] + row[1] for row in deltas.flows.by_key().values()) == sum(
        int(r["bytes"]) for r in records
    )
    assert sum(row[4] for row in deltas.flows.by_key().values()) == len(records)


_BAD = {
    "interface-id": "vol-123",
    "srcaddr": "10.0.0.300",
    "dstaddr": "example.com",
    "start": "yesterday",
    "packets": "-4",
    "bytes": "1e6",
    "srcport": "65536",
    "dstport": "-1",
    "protocol": "tcp",
    "action": "ALLOW",
    "account-id": "12345",
    "flow-direction": "sideways",
    "log-status": "MAYBE",
}


@settings(max_examples=200, deadline=None)
@given(flow_files(), st.data())
def test_a_malformed_field_is_one_record_error(
    case: tuple[list[str], list[dict[str, str]]], data: st.DataObject
) -> None:
    fields, records = case
    if not records:
        return
    bad = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(st.sampled_from(fields))
    records[bad][field] = _BAD[field]
    text = "\n".join([" ".join(fields)] + [" ".join(r[f] for f in fields) for r in records])
    res, _ = stage(text.encode())
    assert len(res.errors) == 1, res.errors
    assert res.errors[0].startswith(f"line {bad + 2}: field {field}: ")
    assert (res.records, res.loaded) == (len(records), len(records) - 1)


@pytest.mark.parametrize("columnar_rows", [1, 300])
@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("bytes", "99999999999999999999", "out of range"),  # past int64
        ("bytes", "9000000000000000000", "out of range"),  # fits int64, two would not
        ("packets", "1125899906842624", "out of range"),  # 2^50: the first value refused
        ("end", "253402300800", "after 9999-12-31"),
    ],
)
def test_counters_and_times_past_what_stores_hold_reject_their_record(
    field: str, value: str, why: str, columnar_rows: int
) -> None:
    """A huge counter used to reach SQLite as a Python int past int64 and fail the whole batch:
    now it is its record's error, on the columnar path (many rows) and the per-record one."""
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets"
    header += " bytes start end action log-status"
    good = {
        "version": "2", "account-id": "111122223333", "interface-id": "eni-0a1b2c3d4e5f60718",
        "srcaddr": "10.0.0.5", "dstaddr": "203.0.113.9", "srcport": "443", "dstport": "50000",
        "protocol": "6", "packets": "10", "bytes": "1000", "start": "1709600000",
        "end": "1709600060", "action": "ACCEPT", "log-status": "OK",
    }  # fmt: skip
    records = [dict(good, dstport=str(50000 + i)) for i in range(columnar_rows)]
    records[0][field] = value
    lines = [header] + [" ".join(r[f] for f in header.split()) for r in records]
    res, deltas = stage("\n".join(lines).encode())
    assert len(res.errors) == 1, res.errors
    assert res.errors[0].startswith(f"line 2: field {field}: {why}"), res.errors
    assert value in res.errors[0]
    assert (res.records, res.loaded) == (columnar_rows, columnar_rows - 1)
    assert sum(row[0] + row[1] for row in deltas.flows.by_key().values()) == 1000 * (
        columnar_rows - 1
    )
