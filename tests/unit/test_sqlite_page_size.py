"""SQLite: new store files get 16 KiB pages (cheaper B-tree inserts on large loads); files
written with another page size keep it and work as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from graph.batch import DeltaBuffer, LedgerEntry
from graph.model import API, CALLED, HOUR, ROLE, VertexRef
from graph.sqlite import SqliteStore
from graph.store import GraphInfo
from tests.integration.helpers import export_text

D0 = 1_709_251_200
GRAPH = "arn:aws:detective:us-east-1:111122223333:graph:" + "c" * 32


def _page_size(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        size: int = con.execute("PRAGMA page_size").fetchone()[0]
        return size
    finally:
        con.close()


def _load(path: Path) -> str:
    store = SqliteStore(path)
    store.create_graph(GraphInfo(GRAPH, "111122223333", D0))
    buf = DeltaBuffer()
    role = VertexRef(ROLE, "arn:aws:iam::111122223333:role/r")
    for h in range(2_000):  # enough rows for several pages of every table
        api = VertexRef(API, f"s3:Get{h % 97}")
        buf.edge(CALLED, role, api, D0 + h * HOUR, (1, h % 2), qualifier=f"10.0.{h % 7}.1")
    store.write(
        buf.take(GRAPH, [LedgerEntry("f", "v", 1, "loaded", "cloudtrail", 1, 1, 0, (), D0)])
    )
    text = export_text(store, GRAPH)
    store.close()
    return text


def test_a_new_store_has_16k_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    exported = _load(new)
    assert _page_size(new) == 16_384
    old = tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.execute("PRAGMA page_size=4096")
    con.execute("PRAGMA journal_mode=WAL")  # as a store of an earlier version left it
    con.execute("CREATE TABLE t (x)")
    con.close()
    assert _load(old) == exported
    assert _page_size(old) == 4_096
