"""Retention: `gumshoe retention` on demand and `gumshoe serve`'s schedule remove data older than
the retention period (counted back from the graph's newest data), and nothing newer."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from graph.sqlite import SqliteStore
from tests.integration.helpers import GUMSHOE, delivery, event, export_text, load, write
from tests.integration.membership_support import server, sqlite_uri


def _two_years(tmp_path: Path) -> Path:
    """A store with calls in 2023 and in 2025 (one graph made by the load)."""
    db = tmp_path / "r.db"
    old = write(tmp_path / "old.json", delivery([event("ListBuckets", "2023-03-01T10:00:00Z")]))
    new = write(tmp_path / "new.json", delivery([event("GetObject", "2025-06-01T10:00:00Z")]))
    _, store = load(db, [old, new])
    store.close()
    return db


def _api_operations(db: Path) -> set[str]:
    store = SqliteStore(db)
    try:
        return {
            r["key"]
            for r in map(json.loads, export_text(store).splitlines())
            if r["type"] == "vertex" and r["label"] == "ApiOperation"
        }
    finally:
        store.close()


def gumshoe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GUMSHOE, *args], capture_output=True, text=True, timeout=120)


def test_retention_command(tmp_path: Path) -> None:
    db = _two_years(tmp_path)
    assert _api_operations(db) == {"s3.amazonaws.com:ListBuckets", "s3.amazonaws.com:GetObject"}
    kept = gumshoe("retention", "--store", sqlite_uri(db), "--days", "1000", "--json")
    assert kept.returncode == 0, kept.stderr
    assert all(v["hours"] == 0 for v in json.loads(kept.stdout).values())

    result = gumshoe("retention", "--store", sqlite_uri(db), "--json")  # 365 days by default
    assert result.returncode == 0, result.stderr
    (removed,) = json.loads(result.stdout).values()
    assert removed["hours"] > 0 and removed["vertices"] >= 1
    assert _api_operations(db) == {"s3.amazonaws.com:GetObject"}
    text = gumshoe("retention", "--store", sqlite_uri(db))
    assert "removed 0 hourly counts" in text.stdout
    assert gumshoe("retention", "--store", "postgres://x").returncode == 2


def test_serving_runs_retention_on_a_schedule(tmp_path: Path) -> None:
    db = _two_years(tmp_path)
    env = {"GUMSHOE_RETENTION_INTERVAL": "0.2", "GUMSHOE_RETENTION_DAYS": "30"}
    with server(sqlite_uri(db), env):
        deadline = time.monotonic() + 20
        while "s3.amazonaws.com:ListBuckets" in _api_operations(db):
            assert time.monotonic() < deadline, "the scheduled run never removed the old data"
            time.sleep(0.1)
    assert _api_operations(db) == {"s3.amazonaws.com:GetObject"}
