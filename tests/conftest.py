"""Shared fixtures: the store under test (every backend), sample data paths, a fake clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.sqlite import SqliteStore
from graph.store import GraphInfo, GraphStore

DATA = Path(__file__).parent / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
GRAPH = "arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32
OTHER_GRAPH = "arn:aws:detective:eu-west-1:444455556666:graph:" + "b" * 32


def _janusgraph_store(tmp_path: Path) -> GraphStore:
    url = os.environ.get("JANUSGRAPH_URL")
    if not url:
        message = (
            "JanusGraph tests need a server: run `docker/janusgraph/local-server.sh start` and set "
            "JANUSGRAPH_URL=janusgraph://127.0.0.1:8182 (needs Java 17 and Maven)"
        )
        if IN_CI:
            pytest.fail(message + " — CI must run them")
        pytest.skip(message)
    from graph.open import open_store

    return open_store(url)


@pytest.fixture(params=["sqlite", pytest.param("janusgraph", marks=pytest.mark.janusgraph)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """A fresh store of each backend holding two empty graphs, GRAPH and OTHER_GRAPH."""
    if request.param == "sqlite":
        s: GraphStore = SqliteStore(tmp_path / "graph.db")
    else:
        s = _janusgraph_store(tmp_path)
        for g in s.list_graphs():
            s.delete_graph(g.arn)
    s.create_graph(GraphInfo(GRAPH, "111122223333", 1_700_000_000))
    s.create_graph(GraphInfo(OTHER_GRAPH, "444455556666", 1_700_000_000))
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "graph.db")
    yield s
    s.close()
