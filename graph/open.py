"""Open a store from its URI: `sqlite:///abs/path.db`, a plain `*.db` path, or `janusgraph://host:port`."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

from graph.store import GraphStore

ENV_STORE = "GUMSHOE_STORE"


def default_store_uri() -> str:
    """GUMSHOE_STORE, else a file in the user's data directory."""
    env = os.environ.get(ENV_STORE)
    if env:
        return env
    return f"sqlite://{Path(user_data_dir('gumshoe')) / 'gumshoe.db'}"


def open_store(uri: str | None = None) -> GraphStore:
    uri = uri or default_store_uri()
    if uri.startswith("sqlite://"):
        from graph.sqlite import SqliteStore

        path = uri.removeprefix("sqlite://")
        if not path:
            raise ValueError(f"store URI {uri!r} names no file")
        return SqliteStore(path, uri=uri)
    if uri.startswith("janusgraph://"):
        from graph.janusgraph import JanusGraphStore

        return JanusGraphStore.from_uri(uri)
    if "://" not in uri and uri.endswith((".db", ".sqlite", ".sqlite3")):
        from graph.sqlite import SqliteStore

        return SqliteStore(uri)
    raise ValueError(
        f"unsupported store URI {uri!r}: use sqlite:///path/to/file.db or janusgraph://host:port"
    )
