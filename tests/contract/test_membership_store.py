"""Store contract, membership: member records, volume written with batches, organization admins,
graph properties, deleting a graph without leftovers, and retention."""

from __future__ import annotations

import io

import pytest

from graph.batch import DeltaBuffer, LedgerEntry
from graph.export import write_jsonl
from graph.membership import (
    ACCEPTED_BUT_DISABLED,
    DETECTIVE_CORE,
    EKS_AUDIT,
    ENABLED,
    INVITATION,
    INVITED,
    ORGANIZATION,
    STARTED,
    STOPPED,
    VOLUME_TOO_HIGH,
    Member,
    OrgAdmin,
    PackageState,
    VolumeDelta,
    day_of,
)
from graph.model import ACCOUNT, API, BELONGS_TO, CALLED, IP, USED_IP, USER, VertexRef
from graph.store import Direction, GraphInfo, GraphNotFound, GraphStore, LedgerConflict
from tests.conftest import GRAPH, OTHER_GRAPH

H = 1_700_000_000 - 1_700_000_000 % 3600
DAY = 86_400
ALICE = VertexRef(USER, "AIDAALICE")
BOB = VertexRef(USER, "AIDABOB")
GET = VertexRef(API, "s3.amazonaws.com:GetObject")
IP1 = VertexRef(IP, "198.51.100.7")
ACCT = VertexRef(ACCOUNT, "111122223333")


def member(account: str, status: str = INVITED, graph: str = GRAPH, **kw: object) -> Member:
    fields: dict[str, object] = {
        "email": f"{account}@example.com",
        "invitation_type": INVITATION,
        "invited_at": H,
        "updated_at": H,
    }
    fields.update(kw)
    return Member(graph, account, status=status, **fields)  # type: ignore[arg-type]


def entry(source: str) -> LedgerEntry:
    return LedgerEntry(source, "v1", 10, "loaded", "cloudtrail", 1, 1, 0, (), H)


def export(store: GraphStore, graph: str = GRAPH) -> str:
    out = io.StringIO()
    write_jsonl(store.export(graph), out)
    return out.getvalue()


def test_members_are_created_replaced_listed_and_deleted(store: GraphStore) -> None:
    core = PackageState(STARTED, {STARTED: H})
    store.put_members(
        GRAPH,
        [
            member("444455556666"),
            member("222233334444", ENABLED, packages={DETECTIVE_CORE: core}),
        ],
    )
    assert [m.account_id for m in store.members(GRAPH)] == ["222233334444", "444455556666"]
    (enabled,) = store.members(GRAPH, ["222233334444", "999999999999"])
    assert enabled == member("222233334444", ENABLED, packages={DETECTIVE_CORE: core})
    assert enabled.ingesting
    disabled = member(
        "444455556666",
        ACCEPTED_BUT_DISABLED,
        updated_at=H + 60,
        disabled_reason=VOLUME_TOO_HIGH,
        email=None,
    )
    store.put_members(GRAPH, [disabled])
    assert store.members(GRAPH, ["444455556666"]) == [disabled]
    # a reason that goes away is gone (JanusGraph stores no nulls)
    enabled_again = member("444455556666", ENABLED, updated_at=H + 120)
    store.put_members(GRAPH, [enabled_again])
    assert store.members(GRAPH, ["444455556666"]) == [enabled_again]
    store.delete_members(GRAPH, ["444455556666", "000000000000"])
    assert [m.account_id for m in store.members(GRAPH)] == ["222233334444"]
    assert store.members(OTHER_GRAPH) == []


def test_memberships_of_an_account_across_graphs(store: GraphStore) -> None:
    store.put_members(GRAPH, [member("777788889999")])
    store.put_members(
        OTHER_GRAPH,
        [member("777788889999", ENABLED, graph=OTHER_GRAPH, invitation_type=ORGANIZATION)],
    )
    found = store.memberships("777788889999")
    assert [(m.graph, m.status, m.invitation_type) for m in found] == sorted(
        [(GRAPH, INVITED, INVITATION), (OTHER_GRAPH, ENABLED, ORGANIZATION)]
    )
    assert store.memberships("000011112222") == []


def test_member_records_need_their_graph(store: GraphStore) -> None:
    missing = "arn:aws:detective:us-east-1:111122223333:graph:" + "c" * 32
    with pytest.raises(GraphNotFound):
        store.put_members(missing, [member("444455556666", graph=missing)])
    with pytest.raises(GraphNotFound):
        store.members(missing)


def test_volume_is_written_with_the_batch_and_only_once(store: GraphStore) -> None:
    buf = DeltaBuffer()
    buf.edge(CALLED, ALICE, GET, H + 10, (1, 0), qualifier="ip")
    day = day_of(H)
    rows = [
        VolumeDelta("111122223333", DETECTIVE_CORE, day, 1000, 0, H + 10),
        VolumeDelta("444455556666", DETECTIVE_CORE, day, 0, 300, H + 10),
    ]
    store.write(buf.take(GRAPH, [entry("a.json")], rows))
    buf.edge(CALLED, ALICE, GET, H + 20, (1, 0), qualifier="ip")
    again = [VolumeDelta("111122223333", DETECTIVE_CORE, day + 5, 500, 0, H + 99)]
    store.write(buf.take(GRAPH, [entry("b.json")], again))
    # a batch refused by the ledger adds no volume either
    with pytest.raises(LedgerConflict):
        store.write(DeltaBuffer().take(GRAPH, [entry("a.json")], rows))
    usage = store.volume(GRAPH)
    assert [(v.account, v.package, v.day, v.ingested, v.skipped, v.updated) for v in usage] == [
        ("111122223333", DETECTIVE_CORE, day, 1500, 0, H + 99),
        ("444455556666", DETECTIVE_CORE, day, 0, 300, H + 10),
    ]
    assert store.volume(GRAPH, accounts=["444455556666"])[0].skipped == 300
    assert store.volume(GRAPH, since=day + DAY) == []
    assert store.volume(OTHER_GRAPH) == []


def test_graph_properties_are_replaced(store: GraphStore) -> None:
    props = {"tags": {"team": "sec"}, "packages": {EKS_AUDIT: {"state": STOPPED}}}
    info = store.update_graph(GRAPH, props)
    assert info.props == props
    assert next(g for g in store.list_graphs() if g.arn == GRAPH).props == props
    assert store.update_graph(GRAPH, {}).props == {}
    with pytest.raises(GraphNotFound):
        store.update_graph("arn:aws:detective:us-east-1:111122223333:graph:" + "d" * 32, {})


def test_organization_admins_one_per_region(store: GraphStore) -> None:
    store.put_org_admin(OrgAdmin("us-east-1", "111122223333", GRAPH, H))
    store.put_org_admin(OrgAdmin("eu-west-1", "444455556666", OTHER_GRAPH, H + 1))
    store.put_org_admin(OrgAdmin("us-east-1", "111122223333", GRAPH, H + 2))
    assert store.org_admins() == [
        OrgAdmin("eu-west-1", "444455556666", OTHER_GRAPH, H + 1),
        OrgAdmin("us-east-1", "111122223333", GRAPH, H + 2),
    ]
    store.delete_org_admin("eu-west-1")
    assert [a.region for a in store.org_admins()] == ["us-east-1"]


def test_delete_graph_leaves_nothing_behind(store: GraphStore) -> None:
    buf = DeltaBuffer()
    buf.edge(CALLED, ALICE, GET, H + 10, (1, 0), qualifier="ip")
    buf.edge(USED_IP, ALICE, IP1, H + 10, (1, 0))
    buf.vertex(ALICE, H, H, {"name": "alice", "arn": "arn:aws:iam::111122223333:user/alice"})
    volume = [VolumeDelta("111122223333", DETECTIVE_CORE, day_of(H), 10, 0, H)]
    store.write(buf.take(GRAPH, [entry("a.json")], volume))
    store.put_members(GRAPH, [member("444455556666", ENABLED)])
    store.put_org_admin(OrgAdmin("us-east-1", "111122223333", GRAPH, H))
    # the other graph shares the account and keys: none of it may go
    buf.edge(CALLED, ALICE, GET, H + 10, (1, 0), qualifier="ip")
    store.write(buf.take(OTHER_GRAPH, [entry("a.json")], volume))
    store.put_members(OTHER_GRAPH, [member("444455556666", graph=OTHER_GRAPH)])
    other_before = export(store, OTHER_GRAPH)

    store.delete_graph(GRAPH)

    assert [g.arn for g in store.list_graphs()] == [OTHER_GRAPH]
    assert store.org_admins() == []
    assert [m.graph for m in store.memberships("444455556666")] == [OTHER_GRAPH]
    assert export(store, OTHER_GRAPH) == other_before
    assert len(store.volume(OTHER_GRAPH)) == 1
    # the same ARN created again starts empty: no vertex, edge, count, ledger entry or member
    store.create_graph(GraphInfo(GRAPH, "111122223333", H))
    assert export(store) == ""
    assert store.vertices(GRAPH, [ALICE, GET, IP1]) == {}
    assert store.search(GRAPH, USER, "al", limit=10).vertices == []
    assert store.ledger(GRAPH, ["a.json"]) == {}
    assert store.members(GRAPH) == []
    assert store.volume(GRAPH) == []
    assert (
        store.series(GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 3600) == {}
    )


def _history(store: GraphStore) -> None:
    """ALICE called GET in three hours: old (H), old (H + 1h) and recent (H + 3 days); BOB only
    in the old hour; the account rollup sees both."""
    recent = H + 3 * DAY
    buf = DeltaBuffer()
    for who, ts in ((ALICE, H + 5), (ALICE, H + 3605), (ALICE, recent + 7), (BOB, H + 9)):
        buf.edge(CALLED, who, GET, ts, (1, 0), qualifier="ip")
        buf.edge(BELONGS_TO, who, ACCT, ts, (1,))
    volume = [
        VolumeDelta("111122223333", DETECTIVE_CORE, day_of(H), 10, 0, H),
        VolumeDelta("111122223333", DETECTIVE_CORE, day_of(recent), 20, 0, recent),
    ]
    store.write(buf.take(GRAPH, [entry("a.json")], volume))


def test_retention_removes_old_hours_and_what_only_they_held(store: GraphStore) -> None:
    _history(store)
    cutoff = day_of(H) + 2 * DAY
    expired = store.expire(GRAPH, cutoff)
    assert (expired.hours, expired.edges, expired.vertices, expired.volume) == (6, 2, 1, 1)
    # BOB's only activity was old: gone with its edges; ALICE keeps the recent hour only
    assert set(store.vertices(GRAPH, [ALICE, BOB, GET, ACCT])) == {ALICE, GET, ACCT}
    (n,) = store.neighbours(GRAPH, [ALICE], CALLED, direction=Direction.OUT)[ALICE]
    assert n.counts == (1, 0)  # all-time totals count only what remains
    assert (n.first, n.last) == (H + 5, H + 3 * DAY + 7)  # first observed is history: kept
    series = store.series(GRAPH, [ALICE], CALLED, direction=Direction.OUT, start=H, end=H + 4 * DAY)
    assert series[ALICE] == [(H + 3 * DAY, (1, 0))]
    assert [v.day for v in store.volume(GRAPH)] == [day_of(H + 3 * DAY)]
    assert store.search(GRAPH, USER, "AIDAB", limit=5).vertices == []
    # running it again finds nothing more; the other graph was never touched
    assert store.expire(GRAPH, cutoff).hours == 0
    with pytest.raises(ValueError, match="hour start"):
        store.expire(GRAPH, cutoff + 1)


def test_retention_gives_the_same_export_as_never_loading_the_old_hours(
    store: GraphStore,
) -> None:
    _history(store)
    store.expire(GRAPH, day_of(H) + 2 * DAY)
    lines = export(store).splitlines()
    edges = [line for line in lines if '"type":"edge"' in line]
    assert len(edges) == 2  # ALICE's CALLED and BELONGS_TO, each with the one recent hour
    assert all(f"[{H + 3 * DAY}," in line and f"[{H}," not in line for line in edges)
    # writes after a retention run land on the surviving elements (caches were dropped)
    buf = DeltaBuffer()
    buf.edge(CALLED, BOB, GET, H + 3 * DAY + 50, (0, 1), qualifier="ip")
    store.write(buf.take(GRAPH, [entry("b.json")]))
    (n,) = store.neighbours(GRAPH, [BOB], CALLED, direction=Direction.OUT)[BOB]
    assert (n.first, n.counts) == (H + 3 * DAY + 50, (0, 1))
