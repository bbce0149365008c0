"""Finding groups written to and read back from every backend through the store contract."""

from __future__ import annotations

from baselines.finding_group_store import read_groups, regroup
from baselines.finding_groups import ACTIVE, INACTIVE
from graph.batch import DeltaBuffer
from graph.model import FINDING, FINDING_GROUP, HOUR, IN_GROUP, INSTANCE, INVOLVES, IP, VertexRef
from graph.store import Direction, GraphStore
from tests.conftest import GRAPH, OTHER_GRAPH

T0 = 1_700_000_000 - 1_700_000_000 % HOUR
IP1 = VertexRef(IP, "198.51.100.7")
I1 = VertexRef(INSTANCE, "i-0abc")


def _findings(store: GraphStore, *rows: tuple[str, str, float, int, tuple[VertexRef, ...]]) -> None:
    buf = DeltaBuffer()
    for fid, ftype, severity, at, entities in rows:
        ref = VertexRef(FINDING, fid)
        props = {"type": ftype, "severity": severity, "account": "111122223333"}
        buf.vertex(ref, at, at + 600, props)  # type: ignore[arg-type]
        for e in entities:
            buf.edge(INVOLVES, ref, e, at, (1,), "resource")
    store.write(buf.take(GRAPH, []))


RECON = "Recon:EC2/PortProbeUnprotectedPort"
BACKDOOR = "Backdoor:EC2/C&CActivity.B"


def test_groups_are_stored_grow_and_merge_with_lineage(store: GraphStore) -> None:
    _findings(
        store,
        ("f1", RECON, 2.0, T0, (IP1,)),
        ("f2", RECON, 5.0, T0 + HOUR, (IP1,)),
        ("f3", BACKDOOR, 8.0, T0, (I1,)),
        ("f4", BACKDOOR, 3.0, T0 + 2 * HOUR, (I1,)),
    )
    first = regroup(store, GRAPH, now=T0 + 3 * HOUR)
    assert len(first.active) == 2
    stored = {g.id: g for g in read_groups(store, GRAPH)}
    assert {g.findings for g in stored.values()} == {
        frozenset({"f1", "f2"}),
        frozenset({"f3", "f4"}),
    }
    ip_group = next(g for g in stored.values() if "f1" in g.findings)
    assert (ip_group.severity, ip_group.severity_label) == (5.0, "Medium")
    assert ip_group.title == "Group with: TTP (2)"
    assert ip_group.tactics == ("Discovery",)

    # nothing new: regrouping writes nothing and changes nothing
    again = regroup(store, GRAPH, now=T0 + 4 * HOUR)
    assert again.changed == ()
    assert {g.id: g for g in read_groups(store, GRAPH)} == stored

    # a finding touching both the IP and the instance merges the two groups into a child
    _findings(store, ("f5", BACKDOOR, 9.5, T0 + 3 * HOUR, (IP1, I1)))
    merged = regroup(store, GRAPH, now=T0 + 5 * HOUR)
    (child,) = merged.active
    after = {g.id: g for g in read_groups(store, GRAPH)}
    assert after[child.id].findings == {"f1", "f2", "f3", "f4", "f5"}
    assert after[child.id].status == ACTIVE
    assert after[child.id].parents == tuple(sorted(stored))
    assert after[child.id].severity_label == "Critical"
    assert after[child.id].tactics == ("Discovery", "Command and Control")
    for parent in stored:
        assert after[parent].status == INACTIVE
        assert after[parent].child == child.id
        assert after[parent].findings == stored[parent].findings
    # each membership is one IN_GROUP edge, written once
    members = store.neighbours(
        GRAPH, [VertexRef(FINDING_GROUP, child.id)], IN_GROUP, direction=Direction.IN
    )
    assert sorted(n.ref.key for n in members[VertexRef(FINDING_GROUP, child.id)]) == [
        "f1",
        "f2",
        "f3",
        "f4",
        "f5",
    ]
    assert all(n.counts == (1,) for n in members[VertexRef(FINDING_GROUP, child.id)])
    # findings keep their own observed span
    f1 = store.vertices(GRAPH, [VertexRef(FINDING, "f1")])[VertexRef(FINDING, "f1")]
    assert (f1.first, f1.last) == (T0, T0 + 600)
    # the other graph is untouched
    assert read_groups(store, OTHER_GRAPH) == []
