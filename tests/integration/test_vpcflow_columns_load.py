"""The columnar VPC flow path through the real Loader and SQLite: the same export as the
per-record path, for generated S3-layout files (with malformed lines) and the fixtures."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

import loaders.vpcflow_graph
from bench.vpcflow import generate
from tests.conftest import DATA
from tests.integration.helpers import load_and_export


def test_columnar_and_per_record_loads_export_the_same_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "flows"
    paths = generate(root, 30_000, 8)
    # a few bad lines in one file: per-record errors, the rest still columnar
    data = gzip.decompress(paths[3].read_bytes()).split(b"\n")
    data[5] = data[5].replace(b" 6 ", b" tcp ")
    data[9] = b"2 111122223333 eni-0"
    data[12] = data[12].replace(b" ", b"  ", 1)
    paths[3].write_bytes(gzip.compress(b"\n".join(data)))
    shutil.copytree(DATA / "vpcflow", root / "fixtures")

    columnar = load_and_export(tmp_path / "columnar.db", [root], batch_rows=5_000)
    with monkeypatch.context() as m:
        m.setattr(loaders.vpcflow_graph, "split_text", lambda *_args: None)
        m.setattr(loaders.vpcflow_graph, "split_columns", lambda *_args: None)
        per_record = load_and_export(tmp_path / "per_record.db", [root], batch_rows=5_000)
    assert columnar == per_record
    assert '"FLOW"' in columnar
