"""DeleteGraph through boto3 expunges the graph: not one vertex, edge, hourly count, ledger entry,
member or volume row of it is left in the store — counted in the backend's own tables or
traversals, on SQLite and on JanusGraph — and the other graph in the store is untouched."""

from __future__ import annotations

from pathlib import Path

from graph.sqlite import SqliteStore
from graph.store import GraphStore
from tests.conftest import GRAPH, OTHER_GRAPH
from tests.integration.helpers import delivery, event, export_text, load, write
from tests.integration.membership_support import ADMIN, MEMBER, client, refusal, server


def leftovers(store: GraphStore, arn: str, gid: int | None) -> dict[str, int]:
    """Everything of `arn` still stored, counted beneath the store contract."""
    if isinstance(store, SqliteStore):
        con = store._conn()
        counts = {
            table: con.execute(f"SELECT count(*) FROM {table} WHERE graph=?", (gid,)).fetchone()[0]
            for table in ("vertices", "edges", "terms", "ledger", "members", "volume")
        }
        counts["edge_hours"] = con.execute(
            "SELECT count(*) FROM edge_hours WHERE edge NOT IN (SELECT id FROM edges)"
        ).fetchone()[0]
        counts["org_admins"] = con.execute(
            "SELECT count(*) FROM org_admins WHERE graph=?", (arn,)
        ).fetchone()[0]
        return counts
    from graph.janusgraph import JanusGraphStore

    assert isinstance(store, JanusGraphStore)
    return {
        "vertices": store.g.V().has("graph", arn).count().next(),
        "edges": store.g.E().has("graph", arn).count().next(),
        "graph vertex": store.g.V().has("arn", arn).count().next(),
    }


def test_delete_graph_leaves_nothing(store: GraphStore, tmp_path: Path) -> None:
    records = [
        event("GetObject", "2025-06-01T10:00:00Z", account=ADMIN, user=u, ip=f"198.51.100.{i}")
        for i, u in enumerate(("alice", "bob", "carol"))
    ]
    files = [write(tmp_path / f"{n}.json", delivery(records[n:])) for n in range(3)]
    load(store, files, graph=GRAPH)
    load(store, files[:1], graph=OTHER_GRAPH)
    other_before = export_text(store, OTHER_GRAPH)
    gid = store._graph_id(GRAPH) if isinstance(store, SqliteStore) else None
    with server(store.uri) as base:
        admin, member = client(base, "admin"), client(base, "member")
        admin.create_members(
            GraphArn=GRAPH, Accounts=[{"AccountId": MEMBER, "EmailAddress": "m@example.com"}]
        )
        member.accept_invitation(GraphArn=GRAPH)
        assert export_text(store, GRAPH)  # there is something to delete
        assert any(leftovers(store, GRAPH, gid).values())
        # only the administrator may delete it
        assert refusal(lambda: member.delete_graph(GraphArn=GRAPH))[0] == "AccessDeniedException"
        admin.delete_graph(GraphArn=GRAPH)
        assert admin.list_graphs()["GraphList"] == []
        assert member.list_invitations()["Invitations"] == []
    assert leftovers(store, GRAPH, gid) == dict.fromkeys(leftovers(store, GRAPH, gid), 0)
    assert [g.arn for g in store.list_graphs()] == [OTHER_GRAPH]
    assert export_text(store, OTHER_GRAPH) == other_before
