"""SQLite: a graph's edges are found through its vertices (no index on edges.graph), so
retention, deletion and export of one graph must never touch another's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from graph.batch import DeltaBuffer, LedgerEntry
from graph.model import API, CALLED, HOUR, IP, ROLE, USED_IP, VertexRef
from graph.sqlite import SqliteStore
from graph.store import GraphInfo
from tests.integration.helpers import export_text

D0 = 1_709_251_200
GRAPHS = ("arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32,
          "arn:aws:detective:us-east-1:111122223333:graph:" + "b" * 32)  # fmt: skip


def _write(store: SqliteStore, graph: str) -> None:
    buf = DeltaBuffer()
    role = VertexRef(ROLE, "arn:aws:iam::111122223333:role/r")
    for h in range(0, 72, 3):  # the same keys in both graphs: different vertices and edges
        ts = D0 + h * HOUR + 5
        buf.edge(CALLED, role, VertexRef(API, f"s3:Get{h % 4}"), ts, (1, 0), qualifier="1.2.3.4")
        buf.edge(USED_IP, role, VertexRef(IP, f"10.0.0.{h % 5}"), ts, (1, 0))
    entry = LedgerEntry("s3://b/k", "v1", 1, "loaded", "cloudtrail", 1, 1, 0, (), D0)
    store.write(buf.take(graph, [entry]))


def _index_names(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        con.close()


def test_retention_and_deletion_of_one_graph_leave_the_others_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    for arn in GRAPHS:
        store.create_graph(GraphInfo(arn, "111122223333", D0))
        _write(store, arn)
    keep, cut = GRAPHS
    kept = export_text(store, keep)
    assert kept == export_text(store, cut).replace(cut, keep)  # same data, other ARN

    gone = store.expire(cut, D0 + 36 * HOUR)
    assert gone.hours > 0 and export_text(store, keep) == kept
    assert export_text(store, cut) != export_text(store, keep).replace(keep, cut)
    store.delete_graph(cut)
    assert export_text(store, keep) == kept
    con = sqlite3.connect(path)
    left = con.execute("SELECT count(*), count(DISTINCT graph) FROM edges").fetchone()
    con.close()
    assert left[0] > 0 and left[1] == 1
    store.close()


def test_a_file_with_the_old_edges_graph_index_loses_it_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    con = sqlite3.connect(path)
    con.execute("CREATE INDEX edges_graph ON edges (graph, label)")
    con.close()
    assert "edges_graph" in _index_names(path)
    SqliteStore(path).close()
    assert "edges_graph" not in _index_names(path) and "edges_in" in _index_names(path)
