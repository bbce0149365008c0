"""Loading into JanusGraph gives the graph SQLite gives, byte for byte; failures are clear."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.workload import generate
from graph.open import open_store
from graph.store import GraphStore
from tests.conftest import DATA, IN_CI

GUMSHOE = str(Path(sys.executable).with_name("gumshoe"))
pytestmark = pytest.mark.janusgraph


@pytest.fixture
def janusgraph() -> Iterator[str]:
    url = os.environ.get("JANUSGRAPH_URL")
    if not url:
        message = "set JANUSGRAPH_URL (start docker/janusgraph/local-server.sh)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    yield url


def _graph_arn() -> str:
    return f"arn:aws:detective:us-east-1:123456789012:graph:{uuid.uuid4().hex}"


def _gumshoe(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([GUMSHOE, *args], capture_output=True, text=True, env=env, check=False)


def _load_and_export(store: str, graph: str, inputs: Path, out: Path) -> bytes:
    loaded = _gumshoe("load", "--store", store, "--graph", graph, "--json", str(inputs))
    assert loaded.returncode in (0, 1), loaded.stderr
    exported = _gumshoe("export", "--store", store, "--graph", graph, "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    return out.read_bytes()


def _drop(url: str, graph: str) -> None:
    store: GraphStore = open_store(url)
    try:
        store.delete_graph(graph)
    finally:
        store.close()


@pytest.mark.parametrize(
    "inputs",
    [
        DATA / "datasets" / "invictus-ir-aws_dataset",
        DATA / "datasets",  # every shape, envelope, broken and skipped file
    ],
    ids=["invictus", "all-datasets"],
)
def test_export_is_byte_identical_to_sqlite_on_real_data(
    janusgraph: str, tmp_path: Path, inputs: Path
) -> None:
    graph = _graph_arn()
    try:
        jg = _load_and_export(janusgraph, graph, inputs, tmp_path / "jg.jsonl")
    finally:
        _drop(janusgraph, graph)
    lite = _load_and_export(f"sqlite://{tmp_path / 'g.db'}", graph, inputs, tmp_path / "lite.jsonl")
    assert len(lite.splitlines()) > 1000
    assert jg == lite


def test_export_is_byte_identical_to_sqlite_on_generated_workload(
    janusgraph: str, tmp_path: Path
) -> None:
    result = generate(tmp_path / "w", accounts=3, days=2, events=12_000, seed=11)
    graph = _graph_arn()
    try:
        jg = _load_and_export(janusgraph, graph, tmp_path / "w", tmp_path / "jg.jsonl")
    finally:
        _drop(janusgraph, graph)
    lite = _load_and_export(
        f"sqlite://{tmp_path / 'g.db'}", graph, tmp_path / "w", tmp_path / "lite.jsonl"
    )
    assert result.events > 10_000
    assert jg == lite


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = _gumshoe(
        "load",
        "--store",
        f"janusgraph://127.0.0.1:{port}",
        str(DATA / "datasets" / "flosell-trailscraper"),
    )
    assert run.returncode == 3
    assert f"cannot reach JanusGraph at ws://127.0.0.1:{port}/gremlin" in " ".join(
        run.stderr.split()
    )
    assert "Traceback" not in run.stderr
