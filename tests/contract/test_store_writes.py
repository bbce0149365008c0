"""Store contract, writes: counted deltas, merges, atomic batches, the ledger, graph isolation."""

from __future__ import annotations

import pytest

from graph.batch import DeltaBuffer, LedgerEntry, WriteBatch
from graph.model import ACCOUNT, API, BUCKET, CALLED, IP, SESSION, USED_IP, USER, VertexRef
from graph.store import Direction, GraphStore, LedgerConflict
from tests.conftest import GRAPH, OTHER_GRAPH

H = 1_700_000_000 - 1_700_000_000 % 3600  # an hour start
ALICE = VertexRef(USER, "AIDAALICE")
BOB = VertexRef(USER, "AIDABOB")
GET = VertexRef(API, "s3.amazonaws.com:GetObject")
LIST = VertexRef(API, "s3.amazonaws.com:ListBuckets")
IP1 = VertexRef(IP, "198.51.100.7")


def entry(source: str, version: str = "v1", status: str = "loaded") -> LedgerEntry:
    return LedgerEntry(source, version, 10, status, "cloudtrail", 1, 1, 0, (), H)  # type: ignore[arg-type]


def calls(*rows: tuple[VertexRef, VertexRef, int, int, int, str]) -> DeltaBuffer:
    """(principal, api, time, successes, failures, source ip) rows as a buffer."""
    buf = DeltaBuffer()
    for who, api, ts, ok, bad, ip in rows:
        buf.edge(CALLED, who, api, ts, (ok, bad), qualifier=ip)
    return buf


def write(store: GraphStore, buf: DeltaBuffer, *ledger: LedgerEntry, graph: str = GRAPH) -> None:
    store.write(buf.take(graph, list(ledger)))


def test_hourly_counts_add_up_across_batches(store: GraphStore) -> None:
    write(store, calls((ALICE, GET, H + 10, 2, 1, "ip"), (ALICE, GET, H + 3700, 1, 0, "ip")))
    write(store, calls((ALICE, GET, H + 20, 3, 0, "ip")))
    series = store.series(GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 7200)
    assert series[ALICE] == [(H, (5, 1)), (H + 3600, (1, 0))]
    (n,) = store.neighbours(GRAPH, [ALICE], CALLED, direction=Direction.OUT)[ALICE]
    assert (n.ref, n.qualifier, n.first, n.last, n.counts) == (GET, "ip", H + 10, H + 3700, (6, 1))


def test_first_and_last_observed_only_widen(store: GraphStore) -> None:
    write(store, calls((ALICE, GET, H + 100, 1, 0, "")))
    write(store, calls((ALICE, GET, H + 50, 1, 0, ""), (ALICE, GET, H + 90, 1, 0, "")))
    write(store, calls((ALICE, GET, H + 200, 1, 0, "")))
    v = store.vertices(GRAPH, [ALICE])[ALICE]
    assert (v.first, v.last) == (H + 50, H + 200)
    (n,) = store.neighbours(GRAPH, [ALICE], CALLED, direction=Direction.OUT)[ALICE]
    assert (n.first, n.last) == (H + 50, H + 200)


def test_property_merge_rules(store: GraphStore) -> None:
    bucket = VertexRef(BUCKET, "logs")
    for props in (
        {"arn": "arn:aws:s3:::logs", "created": H + 500, "deleted": H + 10},
        {"arn": "arn:aws:s3:::other", "created": H + 100, "deleted": H + 900},
        {"created": H + 300, "deleted": H + 400, "account": "111122223333"},
    ):
        buf = DeltaBuffer()
        buf.vertex(bucket, H, H, props)
        write(store, buf)
    v = store.vertices(GRAPH, [bucket])[bucket]
    # arn is FIRST, created MIN, deleted MAX; a later write fills a missing FIRST property
    assert dict(v.props) == {
        "arn": "arn:aws:s3:::logs",
        "created": H + 100,
        "deleted": H + 900,
        "account": "111122223333",
    }


def test_none_never_overwrites(store: GraphStore) -> None:
    ip = VertexRef(IP, "203.0.113.9")
    for country in ("DE", None):
        buf = DeltaBuffer()
        buf.vertex(ip, H, H, {"country": country})
        write(store, buf)
    assert store.vertices(GRAPH, [ip])[ip].props["country"] == "DE"


def test_graphs_are_isolated(store: GraphStore) -> None:
    write(store, calls((ALICE, GET, H, 1, 0, "")))
    write(store, calls((ALICE, GET, H, 7, 0, ""), (BOB, LIST, H, 1, 0, "")), graph=OTHER_GRAPH)
    assert store.vertices(GRAPH, [BOB]) == {}
    mine = store.series(GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 3600)
    assert mine[ALICE] == [(H, (1, 0))]
    assert [r["key"] for r in store.export(GRAPH) if r["type"] == "vertex"] == [GET.key, ALICE.key]


def test_ledger_entry_commits_with_the_batch(store: GraphStore) -> None:
    write(store, calls((ALICE, GET, H, 1, 0, "")), entry("s3://b/k1", "etag:1"))
    got = store.ledger(GRAPH, ["s3://b/k1", "s3://b/never"])
    assert list(got) == ["s3://b/k1"]
    assert got["s3://b/k1"][0].version == "etag:1"
    assert got["s3://b/k1"][0].status == "loaded"


def test_ledger_conflict_writes_nothing(store: GraphStore) -> None:
    write(store, calls((ALICE, GET, H, 1, 0, "")), entry("f1"))
    before = list(store.export(GRAPH))
    with pytest.raises(LedgerConflict) as raised:
        write(
            store,
            calls((ALICE, GET, H, 5, 0, ""), (BOB, GET, H, 1, 0, "")),
            entry("f2"),
            entry("f1"),
        )
    assert raised.value.sources == ["f1"]
    assert list(store.export(GRAPH)) == before
    assert store.ledger(GRAPH, ["f2"]) == {}


def test_failed_entries_are_replaced_by_a_later_success(store: GraphStore) -> None:
    write(store, DeltaBuffer(), entry("f1", status="failed"))
    write(store, calls((ALICE, GET, H, 1, 0, "")), entry("f1"))
    (e,) = store.ledger(GRAPH, ["f1"])["f1"]
    assert e.status == "loaded"
    # a new version of the same source is a different object
    write(store, calls((ALICE, GET, H, 1, 0, "")), entry("f1", "v2"))
    assert [x.version for x in store.ledger(GRAPH, ["f1"])["f1"]] == ["v1", "v2"]


def test_invalid_batches_are_rejected_before_writing(store: GraphStore) -> None:
    bad = DeltaBuffer()
    bad.edge(USED_IP, ALICE, GET, H, (1, 0))  # USED_IP must end at an IpAddress
    with pytest.raises(ValueError, match="USED_IP cannot join AwsUser to ApiOperation"):
        write(store, bad, entry("f"))
    unknown = WriteBatch(GRAPH, [], [], [])
    store.write(unknown)
    assert list(store.export(GRAPH)) == []
    assert store.ledger(GRAPH, ["f"]) == {}


def test_delete_graph_expunges_only_that_graph(store: GraphStore) -> None:
    write(store, calls((ALICE, GET, H, 1, 0, "1.2.3.4")), entry("f1"))
    write(store, calls((BOB, GET, H, 1, 0, "")), entry("f1"), graph=OTHER_GRAPH)
    store.delete_graph(GRAPH)
    assert [g.arn for g in store.list_graphs()] == [OTHER_GRAPH]
    assert store.ledger(OTHER_GRAPH, ["f1"])["f1"][0].status == "loaded"
    assert store.vertices(OTHER_GRAPH, [BOB])
    # the deleted graph can be created again, empty
    from graph.store import GraphInfo

    store.create_graph(GraphInfo(GRAPH, "111122223333", 1))
    assert list(store.export(GRAPH)) == []
    assert store.ledger(GRAPH, ["f1"]) == {}
    write(store, calls((ALICE, GET, H, 2, 0, "")))
    assert store.series(GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 1)[
        ALICE
    ] == [(H, (2, 0))]


def test_create_graph_is_idempotent(store: GraphStore) -> None:
    from graph.store import GraphInfo

    again = store.create_graph(GraphInfo(GRAPH, "999999999999", 5))
    assert again.admin_account == "111122223333"
    assert [g.arn for g in store.list_graphs()].count(GRAPH) == 1


def test_graphs_are_listed_by_arn_whatever_the_creation_order(store: GraphStore) -> None:
    from graph.store import GraphInfo

    early = "arn:aws:detective:ap-south-1:111122223333:graph:" + "c" * 32
    store.create_graph(GraphInfo(early, "111122223333", 7))
    arns = [g.arn for g in store.list_graphs()]
    assert arns == sorted([GRAPH, OTHER_GRAPH, early])


def test_session_and_account_labels_round_trip(store: GraphStore) -> None:
    buf = DeltaBuffer()
    session = VertexRef(SESSION, "AROAX:build-42")
    acct = VertexRef(ACCOUNT, "111122223333")
    buf.vertex(session, H, H, {"name": "build-42", "role_name": "Builder"})
    buf.edge(CALLED, session, GET, H, (1, 0))
    buf.edge(CALLED, acct, GET, H, (1, 0))
    write(store, buf)
    got = store.vertices(GRAPH, [session, acct, VertexRef(ACCOUNT, "nope")])
    assert set(got) == {session, acct}
    assert got[session].props == {"name": "build-42", "role_name": "Builder"}
