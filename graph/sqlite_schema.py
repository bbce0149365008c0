"""Tables of the embedded SQLite store (one file, WAL, one writer and any number of readers)."""

from __future__ import annotations

from graph import sqlite_days

# 2: day series (graph.sqlite_days); files of version 1 are upgraded when opened
SCHEMA_VERSION = "2"

# Counters are stored in fixed columns c0..c3; EdgeType.counters names them per label.
COUNTER_COLUMNS = ("c0", "c1", "c2", "c3")


def edges_of_graph(src: str = "src") -> str:
    """The condition on an edge's source column that keeps the edges of graph `?`: through its
    source vertex (a graph's edges join its own vertices) and the unique index, which starts
    with src. An index on edges.graph cost every new edge another insert: 6% of a VPC load."""
    return f"{src} IN (SELECT id FROM vertices WHERE graph=?)"


DDL = (
    """
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS graphs (
    id INTEGER PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    admin_account TEXT NOT NULL,
    created INTEGER NOT NULL,
    takes_all_accounts INTEGER NOT NULL,
    props TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS vertices (
    id INTEGER PRIMARY KEY,
    graph INTEGER NOT NULL,
    label TEXT NOT NULL,
    key TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    props TEXT NOT NULL DEFAULT '{}',
    UNIQUE (graph, label, key)
);
-- Search terms: the key plus the values of the label's search properties (name, ARN, ...).
-- BINARY collation keeps search case-sensitive and lets GLOB 'prefix*' use the index.
CREATE TABLE IF NOT EXISTS terms (
    graph INTEGER NOT NULL,
    label TEXT NOT NULL,
    term TEXT NOT NULL,
    vertex INTEGER NOT NULL,
    PRIMARY KEY (graph, label, term, vertex)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edges (
    id INTEGER PRIMARY KEY,
    graph INTEGER NOT NULL,
    label TEXT NOT NULL,
    src INTEGER NOT NULL,
    dst INTEGER NOT NULL,
    qualifier TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    UNIQUE (src, label, dst, qualifier)
);
CREATE INDEX IF NOT EXISTS edges_in ON edges (dst, label);
-- (no index on edges.graph: see edges_of_graph; files written before had one)
DROP INDEX IF EXISTS edges_graph;
CREATE TABLE IF NOT EXISTS edge_hours (
    edge INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    c0 INTEGER NOT NULL,
    c1 INTEGER NOT NULL,
    c2 INTEGER NOT NULL,
    c3 INTEGER NOT NULL,
    PRIMARY KEY (edge, hour)
) WITHOUT ROWID;
"""
    + sqlite_days.DDL
    + """
CREATE TABLE IF NOT EXISTS ledger (
    graph INTEGER NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    records INTEGER NOT NULL,
    loaded INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    errors TEXT NOT NULL,
    loaded_at INTEGER NOT NULL,
    hint TEXT NOT NULL,
    PRIMARY KEY (graph, source, version)
);
-- Membership (graph.membership): tables added later are created on open, so files written by
-- earlier versions gain them without a schema change.
CREATE TABLE IF NOT EXISTS members (
    graph INTEGER NOT NULL,
    account TEXT NOT NULL,
    email TEXT,
    status TEXT NOT NULL,
    invitation_type TEXT NOT NULL,
    invited_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    disabled_reason TEXT,
    packages TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (graph, account)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_by_account ON members (account);
CREATE TABLE IF NOT EXISTS volume (
    graph INTEGER NOT NULL,
    account TEXT NOT NULL,
    package TEXT NOT NULL,
    day INTEGER NOT NULL,
    ingested INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (graph, account, package, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS org_admins (
    region TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    graph TEXT NOT NULL,
    delegated_at INTEGER NOT NULL
);
"""
)

PRAGMAS = (
    # (takes effect only on a new file, before its first table): 16 KiB pages cut the CPU of a
    # VPC flow load by 3% against the default 4 KiB (B-tree inserts of the edge and hour rows)
    "PRAGMA page_size=16384",
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode is durable against process crashes (kill -9); only an OS crash or power
    # loss can roll back the last commits, and then the ledger rolls back with them.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=60000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
)
