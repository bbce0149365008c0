"""A JanusGraph server restarted in the middle of a load: the loader waits, resumes, and ends with
the graph SQLite gives — nothing lost, nothing counted twice.

The server must keep its data over a restart, so this runs against JanusGraph on CQL (a local
Cassandra): `.ci/run` starts one and sets JANUSGRAPH_CQL_URL. The in-memory server of the other
JanusGraph tests would come back empty.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.workload import generate
from graph.open import open_store
from graph.store import GraphNotFound
from loaders.sources import iter_objects
from tests.conftest import IN_CI
from tests.integration.helpers import GUMSHOE

pytestmark = pytest.mark.janusgraph
ROOT = Path(__file__).parents[2]
SERVER = ROOT / "docker" / "janusgraph" / "local-server.sh"
CQL_PROPERTIES = ROOT / "docker" / "janusgraph" / "conf" / "janusgraph-cql.properties"


@pytest.fixture
def cql_janusgraph() -> Iterator[str]:
    url = os.environ.get("JANUSGRAPH_CQL_URL")
    if not url:
        message = (
            "set JANUSGRAPH_CQL_URL=janusgraph://127.0.0.1:8191 after starting "
            "docker/cassandra/local-cassandra.sh and, on port 8191 with "
            "JANUSGRAPH_PROPERTIES=docker/janusgraph/conf/janusgraph-cql.properties, "
            "docker/janusgraph/local-server.sh (see README)"
        )
        if IN_CI:
            pytest.fail(message + " — CI must run it")
        pytest.skip(message)
    yield url


def _server(action: str, port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JANUSGRAPH_PORT": str(port), "JANUSGRAPH_PROPERTIES": str(CQL_PROPERTIES)}
    return subprocess.run(
        [str(SERVER), action], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _ledger_size(url: str, graph: str, uris: list[str]) -> int:
    store = open_store(url)
    try:
        return len(store.ledger(graph, uris))
    except GraphNotFound:  # the loader has not created it yet
        return 0
    finally:
        store.close()


def _export(store: str, graph: str, out: Path) -> bytes:
    run = subprocess.run(
        [GUMSHOE, "export", "--store", store, "--graph", graph, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return out.read_bytes()


def test_a_restart_mid_load_loses_and_doubles_nothing(cql_janusgraph: str, tmp_path: Path) -> None:
    port = urlsplit(cql_janusgraph.replace("janusgraph://", "ws://")).port or 8182
    work = tmp_path / "w"
    generate(work, accounts=2, days=3, events=15_000, seed=5)
    uris = [o.uri for o in iter_objects([str(work)])]
    assert len(uris) > 20  # enough objects that the restart lands between two of them
    graph = f"arn:aws:detective:us-east-1:123456789012:graph:{uuid.uuid4().hex}"
    load = subprocess.Popen(
        [GUMSHOE, "load", "--store", cql_janusgraph, "--graph", graph, "--json", str(work)]
        + ["--batch-events", "500"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while _ledger_size(cql_janusgraph, graph, uris) == 0:
            assert load.poll() is None, "the load ended before the restart: make it longer"
            assert time.monotonic() < deadline, "the load wrote nothing in 300 s"
            time.sleep(0.2)
        restarted = _server("restart", port)
        assert restarted.returncode == 0, restarted.stderr
        written = _ledger_size(cql_janusgraph, graph, uris)
        assert written < len(uris), "the load finished before the server went down"
        out, err = load.communicate(timeout=900)
    finally:
        if load.poll() is None:
            load.kill()
    assert load.returncode == 0, err
    assert '"loaded_files"' in out
    try:
        assert _ledger_size(cql_janusgraph, graph, uris) == len(uris)
        jg = _export(cql_janusgraph, graph, tmp_path / "jg.jsonl")
    finally:
        store = open_store(cql_janusgraph)
        try:
            store.delete_graph(graph)
        finally:
            store.close()
    db = tmp_path / "g.db"
    lite_load = subprocess.run(
        [GUMSHOE, "load", "--store", f"sqlite://{db}", "--graph", graph, str(work)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert lite_load.returncode == 0, lite_load.stderr
    lite = _export(f"sqlite://{db}", graph, tmp_path / "lite.jsonl")
    assert len(lite.splitlines()) > 1000
    assert jg == lite
