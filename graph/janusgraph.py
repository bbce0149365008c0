"""The behavior graph on a JanusGraph server, through gremlinpython (store contract backend).

Writes: a `WriteBatch` is applied in one JanusGraph transaction (a Gremlin session), as batched
`inject(rows).unfold().mergeV()/mergeE()` requests of a few hundred maps each — vertices first,
then summary edges, hourly edges and finally the ledger entries of the batch's source objects —
and committed once, so a source object's writes and its ledger entry commit or roll back
together. Vertex ids are deterministic (graph, label, key), so concurrent loaders address the same
vertex instead of creating duplicates. Counters are incremented in Gremlin, first/last observed
are min/max-ed, properties merged per graph.model's rules. Elements that cannot exist yet are
created without the merge's update branch; if one does exist after all (another writer committed
it during the transaction), the transaction rolls back and the batch is written again with full
merges (graph.janusgraph_writes).

Two writers on the same vertices lose counter updates (JanusGraph has no write-write conflict
detection without LOCK consistency): run one loader per graph, as `gumshoe load` does.
Reads return primitives only (project/values), never elements: gremlinpython cannot decode
JanusGraph's relation ids.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

from gremlin_python.driver.client import Client
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.traversal import Merge, P, T

from graph.batch import LedgerEntry, WriteBatch, validate_batch
from graph.janusgraph_create import Submit, session_submit
from graph.janusgraph_membership import JanusGraphMembership, write_volume
from graph.janusgraph_reads import JanusGraphReads
from graph.janusgraph_schema import (
    GRAPH_LABEL,
    LEDGER_LABEL,
    escape,
    schema_script,
)
from graph.janusgraph_wire import serializer
from graph.janusgraph_writes import Contended, ledger_row, write_batch
from graph.store import GraphInfo, GraphNotFound, StoreError, StoreUnavailable

CHUNK = 400
R = TypeVar("R")


# What a server that is shutting down answers to requests in flight: its graph or the request's
# transaction closed under it. Retrying on a fresh connection is right, as for a refused one.
_SHUTTING_DOWN = (
    "transaction is closed",
    "has been closed",
    # JanusGraph's own wording when a restart closes a transaction mid-traversal (seen on CQL)
    "has already been closed",
    "has been shut down",
    "is shutting down",
    # a NullPointerException in JanusGraph's schema cache is the same closing graph, seen from
    # another thread
    "Cannot invoke",
    # the storage driver's session (Cassandra's) closed under a request while the server stops
    # (seen on CQL, a look-up in the write script)
    "Session is closed",
    # elements of a transaction invalidated under it while the server restarts (seen on CQL);
    # the write rolls back, and retrying it in a fresh transaction is safe: the ledger decides
    "was removed",
)


# Failures of one transaction on a healthy server that a fresh transaction can get past: the
# storage backend (Cassandra, ScyllaDB) timed out or briefly refused, a lock was held by a
# concurrent writer (JanusGraph's PermanentLockingException is a contended lock too), or the
# evaluation ran out of time. The transaction rolled back, so retrying the write is safe (the
# ledger decides what is already in); the loader retries a bounded number of times.
_TRANSIENT = (
    "TemporaryBackendException",
    "TemporaryLockingException",
    "PermanentLockingException",
    "Could not commit transaction",
    "TimeoutException",
    "timed out",
)
_SERVER_TIMEOUT = 598  # Gremlin Server's status for an evaluation past its timeout


def _transient(e: BaseException) -> bool:
    if not isinstance(e, GremlinServerError):
        return False
    return e.status_code == _SERVER_TIMEOUT or any(s in str(e) for s in _TRANSIENT)


def _unavailable(e: BaseException) -> bool:
    if isinstance(e, GremlinServerError):
        return any(s in str(e) for s in _SHUTTING_DOWN)
    text = f"{type(e).__name__} {e}"
    return isinstance(e, OSError | ConnectionError | TimeoutError) or any(
        s in text for s in ("Connect", "connection", "closed", "Cannot connect", "refused")
    )


class JanusGraphStore(JanusGraphReads, JanusGraphMembership):
    # 100 of bench.vpcflow's flow files (694,400 records): 64 s with 60k flows per write, 31 s with
    # 240k, 21 s with 480k (one write): faster still, but the server holds a transaction in its heap
    batch_rows_hint = 240_000

    def __init__(self, host: str, port: int, *, uri: str | None = None) -> None:
        self.uri = uri or f"janusgraph://{host}:{port}"
        self.url = f"ws://{host}:{port}/gremlin"
        self._stale = False
        self._connect()

    def _connect(self) -> None:
        """Open the connection and apply the schema (idempotent: it only adds what is missing,
        which also covers a server that came back empty)."""
        try:
            conn = DriverRemoteConnection(self.url, "g", message_serializer=serializer())
        except Exception as e:
            if _unavailable(e):
                raise StoreUnavailable(f"cannot reach JanusGraph at {self.url}: {e}") from e
            raise
        try:
            self._apply_schema()
        except Exception as e:
            conn.close()
            if _unavailable(e):
                raise StoreUnavailable(f"cannot reach JanusGraph at {self.url}: {e}") from e
            raise
        self._conn = conn
        self.g: GraphTraversalSource = traversal().with_remote(conn)
        self._stale = False

    def _apply_schema(self, attempts: int = 5) -> None:
        # Two processes connecting to a fresh graph at once both add the same labels and keys;
        # one commit loses. Running the idempotent script again sees the winner's schema.
        for attempt in range(attempts):
            client = Client(self.url, "g")
            try:
                client.submit(schema_script()).all().result()
                return
            except GremlinServerError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * 2**attempt)
            finally:
                client.close()

    def _lost(self, e: Exception) -> StoreUnavailable:
        # gremlinpython's pool keeps dead websockets after a server restart: reconnect on the
        # next call instead of failing every retry on the same broken connection
        self._stale = True
        return StoreUnavailable(f"cannot reach JanusGraph at {self.url}: {e}")

    def _retryable(self, e: Exception) -> StoreUnavailable | None:
        """The StoreUnavailable the loader retries on for a failed request, if it is one: a lost
        connection (reconnect next time) or a transaction the server rolled back for a passing
        reason (`_transient`); None for a request the server refuses."""
        if _unavailable(e):
            return self._lost(e)
        if _transient(e):
            return StoreUnavailable(f"JanusGraph at {self.url}: transient failure: {e}")
        return None

    def _ensure_connected(self) -> None:
        if self._stale:
            with contextlib.suppress(Exception):  # the socket is already gone
                self._conn.close()
            self._connect()

    @classmethod
    def from_uri(cls, uri: str) -> JanusGraphStore:
        parsed = urlparse(uri)
        if not parsed.hostname:
            raise ValueError(f"store URI {uri!r} names no host (janusgraph://host:port)")
        return cls(parsed.hostname, parsed.port or 8182, uri=uri)

    def close(self) -> None:
        self._conn.close()

    def _call(self, fn: Callable[..., R], *args: Any) -> R:
        self._ensure_connected()
        try:
            return fn(*args)
        except StoreError:
            raise
        except Exception as e:
            if (retry := self._retryable(e)) is not None:
                raise retry from e
            raise

    # -- graphs ------------------------------------------------------------------------------
    def create_graph(self, info: GraphInfo) -> GraphInfo:
        gid = escape(f"graph|{info.arn}")
        row = {
            "k": {T.id: gid, T.label: GRAPH_LABEL},
            "c": {
                "arn": info.arn,
                "admin_account": info.admin_account,
                "created_at": info.created,
                "takes_all": info.takes_all_accounts,
                "meta": json.dumps(dict(info.props), sort_keys=True),
            },
        }
        self._call(
            lambda: (
                self.g.inject(row)
                .merge_v(__.select("k"))
                .option(Merge.on_create, __.select("c"))
                .option(Merge.on_match, __.constant({}))
                .iterate()
            )
        )
        return next(g for g in self.list_graphs() if g.arn == info.arn)

    def list_graphs(self) -> list[GraphInfo]:
        rows = self._call(
            lambda: (
                self.g.V()
                .has_label(GRAPH_LABEL)
                .project("arn", "admin", "created", "all", "meta")
                .by("arn")
                .by("admin_account")
                .by("created_at")
                .by("takes_all")
                .by("meta")
                .to_list()
            )
        )
        infos = [
            GraphInfo(r["arn"], r["admin"], r["created"], r["all"], json.loads(r["meta"]))
            for r in rows
        ]
        return sorted(infos, key=lambda g: g.arn)

    def _check_graph(self, arn: str) -> None:
        if not self._call(
            lambda: self.g.V(escape(f"graph|{arn}")).has_label(GRAPH_LABEL).count().next()
        ):
            raise GraphNotFound(f"no graph {arn} in {self.uri}")

    def delete_graph(self, arn: str) -> None:
        self._check_graph(arn)
        while self._call(
            lambda: self.g.V().has("graph", arn).limit(2000).side_effect(__.drop()).count().next()
        ):
            pass
        self._call(lambda: self.g.V(escape(f"graph|{arn}")).drop().iterate())

    # -- ledger ------------------------------------------------------------------------------
    def ledger(self, graph: str, sources: Sequence[str]) -> dict[str, list[LedgerEntry]]:
        self._check_graph(graph)
        out: dict[str, list[LedgerEntry]] = {}
        unique = list(dict.fromkeys(sources))
        for i in range(0, len(unique), CHUNK):
            chunk = unique[i : i + CHUNK]
            rows = self._call(
                lambda chunk: (
                    self.g.V()
                    .has(LEDGER_LABEL, "graph", graph)
                    .has("source", P.within(chunk))
                    .value_map()
                    .to_list()
                ),
                chunk,
            )
            for r in rows:
                e = _ledger_entry({k: v[0] for k, v in r.items()})
                out.setdefault(e.source, []).append(e)
        for entries in out.values():
            entries.sort(key=lambda e: (e.loaded_at, e.version))
        return out

    # -- writes ------------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> None:
        validate_batch(batch)
        batch = batch.with_rows_folded()  # one merge per edge: EdgeRows become EdgeDeltas
        self._check_graph(batch.graph)
        try:
            self._write_tx(batch, optimistic=True)
        except Contended:
            # another writer created some of the batch's elements while it was written: the
            # transaction rolled back; again, merging every element
            self._write_tx(batch, optimistic=False)

    def _write_tx(self, batch: WriteBatch, *, optimistic: bool) -> None:
        self._ensure_connected()
        tx = self.g.tx()
        try:
            gtx = tx.begin()
        except Exception as e:
            if _unavailable(e):
                raise self._lost(e) from e
            raise
        try:
            self._write(gtx, session_submit(tx), batch, optimistic=optimistic)
            tx.commit()
        except BaseException as e:
            try:
                if tx.is_open():
                    tx.rollback()
            except Exception:
                pass
            if (
                isinstance(e, Exception)
                and not isinstance(e, StoreError | Contended)
                and (retry := self._retryable(e)) is not None
            ):
                raise retry from e
            raise

    def _write(
        self, gtx: GraphTraversalSource, submit: Submit, batch: WriteBatch, *, optimistic: bool
    ) -> None:
        rows = [ledger_row(batch.graph, e, _ledger_props(batch.graph, e)) for e in batch.ledger]
        write_batch(gtx, batch, rows, submit=submit, optimistic=optimistic)
        write_volume(gtx, batch.graph, batch.volume)

    def export(self, graph: str) -> Iterator[dict[str, Any]]:
        self._check_graph(graph)
        return self._export(graph)


def _ledger_props(graph: str, e: LedgerEntry) -> dict[str, Any]:
    return {
        "graph": graph,
        "source": e.source,
        "lversion": e.version,
        "size": e.size,
        "lstatus": e.status,
        "lkind": e.kind,
        "records": e.records,
        "loaded": e.loaded,
        "skipped": e.skipped,
        "errors": json.dumps(list(e.errors)),
        "loaded_at": e.loaded_at,
        "hint": e.hint,
    }


def _ledger_entry(p: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        p["source"],
        p["lversion"],
        p["size"],
        p["lstatus"],
        p["lkind"],
        p["records"],
        p["loaded"],
        p["skipped"],
        tuple(json.loads(p["errors"])),
        p["loaded_at"],
        p["hint"],
    )
