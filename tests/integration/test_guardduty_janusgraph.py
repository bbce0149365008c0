"""The NEWEST merge on JanusGraph: the newest finding version wins in either load order."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from graph.model import FINDING, VertexRef
from graph.open import open_store
from tests.integration.test_guardduty_load import V1, V2, write_findings
from tests.integration.test_janusgraph_load import _drop, _gumshoe, janusgraph  # noqa: F401

pytestmark = pytest.mark.janusgraph


@pytest.mark.parametrize("order", ["old-first", "new-first"])
def test_the_newest_version_wins_on_janusgraph(
    janusgraph: str,  # noqa: F811
    tmp_path: Path,
    order: str,
) -> None:
    graph = f"arn:aws:detective:us-east-1:123456789012:graph:{uuid.uuid4().hex}"
    older = write_findings(tmp_path / "older.jsonl", V1)
    newer = write_findings(tmp_path / "newer.jsonl", V2)
    try:
        for path in [older, newer] if order == "old-first" else [newer, older]:
            done = _gumshoe("load", "--store", janusgraph, "--graph", graph, str(path))
            assert done.returncode == 0, done.stderr
        store = open_store(janusgraph)
        try:
            v = store.vertices(graph, [VertexRef(FINDING, "fx")])[VertexRef(FINDING, "fx")]
        finally:
            store.close()
    finally:
        _drop(janusgraph, graph)
    assert (v.props["severity"], v.props["title"], v.props["count"]) == (8.0, "new", 9)
    assert (v.props["archived"], v.props["updated"]) == (True, 1714640400)
