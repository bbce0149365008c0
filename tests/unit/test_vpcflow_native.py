"""The native VPC flow path (loaders/vpcflow_native.py): block for block what the columnar path
aggregates, used for well-formed text, declined where pyarrow's split would be wrong, switched
off by GUMSHOE_NATIVE=0, and a load of the sample flow files exports the same graph either way.
(tests/unit/test_vpcflow_columns.py holds all three paths to the same staged graph.)"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loaders.objects as objects
import loaders.vpcflow_graph as vpcflow_graph
from loaders import vpcflow_native
from loaders.cloudtrail import FileError
from loaders.cloudtrail_native import BUILT
from loaders.vpcflow import DEFAULT_FORMAT, Chunk, read_flows
from loaders.vpcflow_columns import Block, Layout, aggregate, split_text
from loaders.vpcflow_graph import FileFlows
from tests.conftest import DATA
from tests.integration.helpers import load_and_export
from tests.unit.test_vpcflow_columns import HOUR, KEY, flow_files

pytestmark = pytest.mark.skipif(not BUILT, reason="the native core is not built (no Rust)")


def _chunks(data: bytes, flow_format: str | None) -> list[Chunk]:
    try:
        return [c for c in read_flows(io.BytesIO(data), flow_format) if isinstance(c, Chunk)]
    except FileError:
        return []


def _entries(block: Block) -> list[tuple[Any, ...]]:
    g = block.groups
    if g is None:
        return []
    columns = (g.hour, g.packets, g.nbytes, g.n, g.first, g.last, g.seq)
    return sorted(zip(map(tuple, g.ids.tolist()), *(c.tolist() for c in columns), strict=True))


def _summary(block: Block) -> tuple[Any, ...]:
    return block.fallback, block.records, block.skipped, block.loaded, block.lines


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_files(), st.integers(0, 10**6))
def test_a_block_aggregates_as_the_columnar_path_aggregates(
    case: tuple[bytes, str | None], base: int
) -> None:
    for chunk in _chunks(*case):
        assert chunk.text is not None
        layout = Layout(chunk.fmt)
        native = vpcflow_native.aggregate_text(layout, chunk.text, chunk.header, base)
        split = split_text(chunk.text, layout.width, chunk.header)
        if split is None:
            # declined by pyarrow: whitespace only bytes.split() splits on, which the core
            # declines too, or rows pyarrow could not number (the core numbers every line)
            if any(c in chunk.text for c in b"\r\t\x0b\x0c"):
                assert native is None
            continue
        reference = aggregate(layout, split, base)
        assert native is not None
        assert _summary(native) == _summary(reference)
        assert _entries(native) == _entries(reference)


@pytest.mark.parametrize(
    ("text", "header", "rows", "span", "odd"),
    [
        pytest.param(b"", False, [], 0, [], id="empty"),
        pytest.param(b"\n", False, [], 1, [0], id="one blank line"),
        pytest.param(b"a b\nc d", False, [0, 1], 2, [], id="no final newline"),
        pytest.param(b"a b\nc d\n", False, [0, 1], 2, [], id="final newline"),
        pytest.param(b"a b\n\nc d\n\n", False, [0, 2], 4, [1, 3], id="blank lines"),
        pytest.param(b"x y\na b\nc\nd e f\n", True, [1], 4, [2, 3], id="header, odd lines"),
        pytest.param(b"a  b\n", False, [], 1, [0], id="doubled space"),
    ],
)
def test_lines_and_fields(
    text: bytes, header: bool, rows: list[int], span: int, odd: list[int]
) -> None:
    block = vpcflow_native._native.FlowBlock.split(text, 2, header)
    assert block is not None and (len(block), block.span) == (len(rows), span)
    assert block.distinct([0]) == list(
        dict.fromkeys(line.split(b" ")[0] for line in (text.split(b"\n")[i] for i in rows))
    )
    # no row here has a number where one is needed: rows and odd lines all go back to the
    # per-record path, in line order
    out = block.aggregate([0] * 13, None, 0, None, 1, 1, 0, 0, 0)
    assert out[8] == sorted([*rows, *odd])
    assert out[9:] == (0, 0, 0)  # records, skipped, loaded of the core


@pytest.mark.parametrize("space", [b"\t", b"\r", b"\x0b", b"\x0c"])
def test_other_whitespace_is_declined(space: bytes) -> None:
    assert vpcflow_native._native.FlowBlock.split(b"a b\nc" + space + b"d\n", 2, False) is None


def test_an_id_table_must_cover_its_column() -> None:
    block = vpcflow_native._native.FlowBlock.split(b"1 2\n3 4\n", 2, False)
    assert block is not None and block.distinct([0]) == [b"1", b"3"]
    plans: list[Any] = [(0, [7])] + [0] * 12  # two distinct values, one id
    with pytest.raises(ValueError, match="does not cover"):
        block.aggregate(plans, None, 0, None, 0, 1, 0, 0, 0)
    with pytest.raises(ValueError, match="one plan per key field"):
        block.aggregate(plans[:3], None, 0, None, 0, 1, 0, 0, 0)


def test_well_formed_text_takes_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        f"2 111122223333 eni-{i % 3} 10.0.0.{i % 5} 198.51.100.{i % 11} {40000 + i % 13} 443 6 "
        f"{i % 9} {i * 40} {HOUR + i} {HOUR + i + 60} ACCEPT OK"
        for i in range(500)
    ]
    data = "\n".join([DEFAULT_FORMAT, *lines]).encode()

    def refuse(*_: Any) -> None:
        raise AssertionError("pyarrow's split was used")

    monkeypatch.setattr(vpcflow_graph, "split_text", refuse)
    flows = FileFlows(KEY, native=True)
    for chunk in _chunks(data, None):
        flows.add(chunk)
    assert (flows.records, flows.loaded, flows.errors) == (500, 500, [])
    assert sum(int(g.n.sum()) for g in flows.blocks) == 500
    # and the switch: GUMSHOE_NATIVE=0 leaves ENABLED false, and FileFlows follows it
    monkeypatch.setattr(vpcflow_native, "ENABLED", False)
    with pytest.raises(AssertionError, match="pyarrow"):
        FileFlows(KEY).add(_chunks(data, None)[0])


def _export(tmp_path: Path, name: str, native: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setattr(vpcflow_native, "ENABLED", native)
        m.setattr(objects, "NATIVE", native)
        flows = DATA / "datasets" / "criblpacks-cribl-vpc-flow-for-security-teams"
        return load_and_export(tmp_path / f"{name}.db", [DATA / "vpcflow", flows])


def test_the_sample_flows_export_the_same_graph_with_and_without_the_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    native = _export(tmp_path, "native", True, monkeypatch)
    python = _export(tmp_path, "python", False, monkeypatch)
    assert native.count('"FLOW"') > 50
    assert native == python
