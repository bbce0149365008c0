"""The columnar VPC flow path (pyarrow, and the native core for text) stages exactly what the
per-record path stages (properties).

Generated files mix well-formed records with everything the arrays must hand back to the
per-record path: malformed fields, NODATA/SKIPDATA, blank lines, doubled spaces, tabs, CRLF,
wrong field counts, non-ASCII bytes, counters too large for a block's int64 sums, IPv6 spellings
that normalize to the same address, custom field orders, and blocks cut in the middle of a file.
"""

from __future__ import annotations

import io
import itertools
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loaders.vpcflow
from graph.batch import WriteBatch
from loaders.cloudtrail import FileError
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.cloudtrail_native import BUILT
from loaders.objects import ObjectResult
from loaders.sources import SourceObject
from loaders.vpcflow import DEFAULT_FORMAT, REQUIRED, Chunk, read_flows
from loaders.vpcflow_batch import codes
from loaders.vpcflow_graph import FileFlows, stage_flow_file

KEY = "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/03/05/f.log"
HOUR = 1_709_640_000

Staged = tuple[tuple[Any, ...], dict[tuple[Any, ...], list[int]], WriteBatch | None, int]


def staged(data: bytes, flow_format: str | None, *, columnar: bool, native: bool = False) -> Staged:
    """Everything stage_flow_file produced: the result, the flows (in order), the direct deltas
    (vertices and edges, in order) and the event count; or the error that failed the file."""
    obj = SourceObject(KEY, len(data), None, "", partial(io.BytesIO, data))
    res, deltas = ObjectResult(), CloudTrailDeltas(Principals())
    try:
        stage_flow_file(
            res, obj, deltas, io.BytesIO(data), flow_format, columnar=columnar, native=native
        )
    except FileError as e:
        return ("failed", str(e)), [], None, 0
    outcome = (
        res.records,
        res.loaded,
        res.skipped,
        res.errors,
        res.first_account,
        res.first_region,
    )
    return outcome, deltas.flows.by_key(), deltas.direct.take("g", []), deltas.events


def assert_same(data: bytes, flow_format: str | None = None) -> Staged:
    """The columnar path, with pyarrow and (when built) with the native core, stages what the
    per-record path stages."""
    reference = staged(data, flow_format, columnar=False)
    for native in (False, True) if BUILT else (False,):
        assert staged(data, flow_format, columnar=True, native=native) == reference
    return reference


# ---- generated files -------------------------------------------------------------------------

# the fields a format may add to the required ones (keys, times, status and ignored ones)
EXTRA = [
    "version", "account-id", "srcport", "dstport", "protocol", "end", "action", "log-status",
    "vpc-id", "subnet-id", "instance-id", "tcp-flags", "region", "flow-direction",
    "pkt-srcaddr", "reject-reason",
]  # fmt: skip
_ADDRESSES = [
    "10.0.0.5", "10.0.0.6", "192.0.2.1", "198.51.100.2", "203.0.113.9",
    "2001:db8::1", "2001:DB8::1", "2001:db8:0:0::1", "fd00::7", "100.64.0.1",
]  # fmt: skip
GOOD: dict[str, st.SearchStrategy[str]] = {
    "interface-id": st.sampled_from(["eni-0a1", "eni-0b2", "eni-0c3"]),
    "srcaddr": st.sampled_from(_ADDRESSES),
    "dstaddr": st.sampled_from(_ADDRESSES),
    "srcport": st.sampled_from(["443", "22", "0", "65535", "50000", "-"]),
    "dstport": st.sampled_from(["443", "53", "51000", "-"]),
    "protocol": st.sampled_from(["6", "17", "-"]),
    "start": st.integers(HOUR - 300, HOUR + 7200).map(str),
    "end": st.sampled_from(["@60", "@0", "@3599"]),  # start + n
    "packets": st.sampled_from(["0", "1", "7", "0012", "999999999999999999"]),
    "bytes": st.sampled_from(["0", "40", "1500", "123456789012"]),
    "action": st.sampled_from(["ACCEPT", "REJECT", "-"]),
    "log-status": st.sampled_from(["OK", "OK", "OK", "-", "NODATA", "SKIPDATA"]),
    "account-id": st.sampled_from(["111122223333", "444455556666", "unknown", "-"]),
    "vpc-id": st.sampled_from(["vpc-1", "vpc-2", "-"]),
    "subnet-id": st.sampled_from(["subnet-1", "-"]),
    "instance-id": st.sampled_from(["i-0abc", "i-0def", "-"]),
    "region": st.sampled_from(["eu-west-1", "us-east-1", "-"]),
    "flow-direction": st.sampled_from(["ingress", "egress", "-"]),
    "version": st.sampled_from(["2", "5"]),
    "tcp-flags": st.sampled_from(["19", "3", "-"]),
    "pkt-srcaddr": st.sampled_from(["10.0.0.5", "-", "ünïcode"]),
    "reject-reason": st.sampled_from(["-", "BPA"]),
}
BAD = st.sampled_from(
    ["-", "x", "+5", "-4", "0x10", "1_000", "1e3", "080", "65536", "٣", "ÿ", "vol-1",
     "10.0.0.300", "ALLOW", "sideways", "12345", "99999999999999999999", "MAYBE",
     "999999999999"]  # (the last: digits, but a time after 9999-12-31)
)  # fmt: skip


@st.composite
def line(draw: st.DrawFn, fields: list[str]) -> str:
    values = {f: draw(GOOD[f]) for f in fields}
    if values.get("log-status") in ("NODATA", "SKIPDATA") or draw(st.integers(0, 19)) == 0:
        for f in ("srcaddr", "dstaddr", "srcport", "dstport", "packets", "bytes", "action"):
            if f in values:
                values[f] = "-"  # what AWS writes when there was no traffic
    if draw(st.integers(0, 5)) == 0:
        values[draw(st.sampled_from(fields))] = draw(BAD)
    if values.get("end", "").startswith("@"):
        start = int(values["start"]) if values["start"].isdigit() else 0
        shift = -1 if draw(st.integers(0, 29)) == 0 else int(values["end"][1:])  # 1 in 30: early
        values["end"] = str(start + shift)
    text = " ".join(values[f] for f in fields)
    mess = draw(st.integers(0, 24))
    if mess == 0:
        text = text.replace(" ", "  ", 1)
    elif mess == 1:
        text = " " + text + " "
    elif mess == 2:
        text = text.rsplit(" ", 1)[0]  # a field short
    elif mess == 3:
        text += " extra"
    elif mess == 4:
        text = ""
    return text


@st.composite
def flow_files(draw: st.DrawFn) -> tuple[bytes, str | None]:
    extra = draw(st.lists(st.sampled_from(EXTRA), unique=True, max_size=len(EXTRA)))
    fields = draw(st.permutations([*REQUIRED, *extra]))
    if draw(st.booleans()):
        fields = DEFAULT_FORMAT.split()
    lines = draw(st.lists(line(fields), max_size=40))
    if lines and draw(st.integers(0, 9)) == 0:  # whitespace only bytes.split() splits on
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = lines[i].replace(" ", draw(st.sampled_from(["\t", " \r", "\x0b"])), 1)
    header = draw(st.booleans())
    text = "\n".join(([" ".join(fields)] if header else []) + lines)
    if draw(st.booleans()):
        text += "\n"
    return text.encode(), None if header else " ".join(fields)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_files())
def test_columnar_text_stages_what_the_per_record_path_stages(
    case: tuple[bytes, str | None],
) -> None:
    assert_same(*case)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_files(), st.integers(1, 200))
def test_blocks_cut_anywhere_stage_the_same(case: tuple[bytes, str | None], block: int) -> None:
    # many small blocks: aggregates of one key in several blocks, fallback rows in any block
    with pytest.MonkeyPatch.context() as m:
        m.setattr(loaders.vpcflow, "_BLOCK", block)
        assert_same(*case)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_files())
def test_columnar_parquet_stages_what_the_per_record_path_stages(
    case: tuple[bytes, str | None],
) -> None:
    data, flow_format = case
    text = data.decode("utf-8", "replace")
    rows = [r.split() for r in text.splitlines()]
    names = (flow_format or text.split("\n", 1)[0]).split()
    rows = [r for r in rows[0 if flow_format else 1 :] if len(r) == len(names)]
    columns = {
        name.replace("-", "_"): [None if r[i] == "-" else r[i] for r in rows]
        for i, name in enumerate(names)
    }
    out = io.BytesIO()
    pq.write_table(pa.table(columns or {"start": pa.array([], pa.string())}), out)
    if rows:
        assert_same(out.getvalue())


def test_well_formed_records_never_take_the_per_record_path() -> None:
    # the equality tests would also pass if the columnar path gave everything back
    fields = DEFAULT_FORMAT.split()
    lines = [
        f"2 111122223333 eni-{i % 7} 10.0.0.{i % 5} 198.51.100.{i % 11} {40000 + i % 13} 443 6 "
        f"{i % 9} {i * 40} {HOUR + i} {HOUR + i + 60} {('ACCEPT', 'REJECT')[i % 2]} OK"
        for i in range(5000)
    ]
    lines[7] = "2 111122223333 eni-1 - - - - - - - 1709640000 1709640060 - NODATA"
    lines[9] = "2 111122223333 eni-1 10.0.0.1 2001:DB8::1 - - 1 1 84 1709640000 1709640060 - -"
    data = "\n".join([" ".join(fields), *lines]).encode()
    outcome, flows, direct, events = assert_same(data)
    assert outcome[:4] == (5000, 4999, 1, [])
    # (flows do not count as events: batches of flows are bounded in flows, not records)
    assert events == 0 and sum(row[4] for row in flows.values()) == 4999
    assert direct is not None and direct.vertices and direct.edges
    for native in (False, True) if BUILT else (False,):
        flows_of_file = FileFlows(KEY, native=native)
        for item in read_flows(io.BytesIO(data), None):
            assert isinstance(item, Chunk)
            flows_of_file.add(item)
        assert not any(plan.agg for plan in flows_of_file.plans.values())
        assert sum(int(g.n.sum()) for g in flows_of_file.blocks) == 4999


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3), min_size=4, max_size=4), max_size=30))
def test_codes_are_equal_exactly_for_equal_rows(rows: list[list[int]]) -> None:
    # large and negative values too: each column spans up to 2**40 + 7
    table = np.array(rows, dtype=np.int64).reshape(-1, 4) * np.array([1, 2**20, 2**40, 7])
    code = codes(list(table.T))
    for i, j in itertools.product(range(len(rows)), repeat=2):
        assert (code[i] == code[j]) == (rows[i] == rows[j])


def test_the_order_of_first_records_decides_interface_properties() -> None:
    # two VPC ids for one interface: the first record's stays (Merge.FIRST), on both paths
    fields = "interface-id srcaddr dstaddr start packets bytes vpc-id"
    data = (
        f"{fields}\n"
        f"eni-1 10.0.0.1 192.0.2.1 {HOUR + 10} 1 1 vpc-b\n"
        f"eni-1 10.0.0.1 192.0.2.1 {HOUR - 10} 1 1 vpc-a\n"
        f"eni-1 10.0.0.1 192.0.2.1 {HOUR} x 1 vpc-c\n"
    ).encode()
    _, _, direct, _ = assert_same(data)
    assert direct is not None
    (nic,) = [v for v in direct.vertices if v.key == "eni-1"]
    assert nic.props["vpc_id"] == "vpc-b"
    # the same two ids the other way round: now vpc-b's id (given above) sorts first, and the
    # file's first record still decides
    swapped = (
        data.replace(b"vpc-a", b"vpc-?").replace(b"vpc-b", b"vpc-a").replace(b"vpc-?", b"vpc-b")
    )
    _, _, direct, _ = assert_same(swapped)
    assert direct is not None
    (nic,) = [v for v in direct.vertices if v.key == "eni-1"]
    assert nic.props["vpc_id"] == "vpc-a"
