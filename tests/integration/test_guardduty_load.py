"""GuardDuty files through the real Loader into SQLite: statuses, entities, updates in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graph.model import (
    EKS_CLUSTER,
    ENI,
    FINDING,
    HAS_INTERFACE,
    INSTANCE,
    INVOLVES,
    IP,
    POD,
    ROLE,
    SESSION,
    VertexRef,
)
from graph.store import Direction, GraphStore
from loaders.sources import iter_objects
from tests.conftest import DATA
from tests.integration.helpers import DATASETS, delivery, event, export_text, load, write
from tests.unit.test_guardduty import finding

FIXTURES = DATA / "guardduty"
GUARDDUTY_FILES = {  # dataset file: (records, loaded)
    "aws-samples-amazon-guardduty-automated-response-sample/guardduty_ec2_event.json": (1, 1),
    "aws-samples-amazon-guardduty-automated-response-sample/guardduty_iam_event.json": (1, 1),
    "aws-samples-amazon-guardduty-automated-response-sample/guardduty_s3_event.json": (1, 1),
    "secmon-as-code-alertchain/guardduty.json": (1, 1),
    "secmon-as-code-alertchain/data.json": (1, 1),
    "secmon-as-code-alertchain/aws_guardduty_example.json": (1, 1),
    "panther-labs-panther-analysis/aws_guardduty_rule_tests.jsonl": (8, 8),
}


def one(store: GraphStore, graph: str, ref: VertexRef) -> Any:
    return store.vertices(graph, [ref])[ref]


def involves(
    store: GraphStore, graph: str, fid: str
) -> set[tuple[VertexRef, str, tuple[int, ...]]]:
    ref = VertexRef(FINDING, fid)
    got = store.neighbours(graph, [ref], INVOLVES, direction=Direction.OUT)
    return {(n.ref, n.qualifier, n.counts) for n in got.get(ref, [])}


def test_fixtures_load_with_the_one_record_error(tmp_path: Path) -> None:
    report, store = load(tmp_path / "g.db", [FIXTURES])
    graph = report.graph or ""
    export = next(o.uri for o in iter_objects([str(FIXTURES)]) if o.uri.endswith(".jsonl.gz"))
    ((entry,),) = store.ledger(graph, [export]).values()
    assert (entry.status, entry.kind, entry.records, entry.loaded) == ("partial", "guardduty", 3, 2)
    assert entry.errors == ("line 4: missing required field severity",)
    assert report.record_errors == 1 and report.loaded == 3  # the empty list is no record
    session = VertexRef(SESSION, "AROAEXAMPLEROLE00001:i-0abc1234def567890")
    assert involves(store, graph, "f0000000000000000000000000000001") == {
        (session, "target", (1,)),
        (VertexRef(ROLE, "AROAEXAMPLEROLE00001"), "target", (1,)),
        (VertexRef(INSTANCE, "i-0abc1234def567890"), "target", (1,)),
        (VertexRef(IP, "8.8.8.8"), "remote", (1,)),
    }
    cluster = "arn:aws:eks:us-east-1:111122223333:cluster/prod"
    assert involves(store, graph, "f0000000000000000000000000000002") == {
        (VertexRef(EKS_CLUSTER, cluster), "target", (1,)),
        (VertexRef(POD, f"{cluster}/kube-system/coredns-1"), "target", (1,)),
        (VertexRef(IP, "2001:4860:4860::8888"), "remote", (1,)),
    }
    probe = involves(store, graph, "f0000000000000000000000000000003")
    assert {ref.key for ref, q, _ in probe if q == "remote"} == {"1.1.1.1", "9.9.9.9"}
    inst, eni = VertexRef(INSTANCE, "i-0abc1234def567890"), VertexRef(ENI, "eni-0aaa1111bbb22223c")
    assert (eni, "target", (1,)) in probe
    nics = store.neighbours(graph, [inst], HAS_INTERFACE, direction=Direction.OUT)[inst]
    assert [n.ref for n in nics] == [eni]
    f1 = one(store, graph, VertexRef(FINDING, "f0000000000000000000000000000001"))
    assert (f1.first, f1.last) == (1714557900, 1714562400)  # eventFirstSeen, eventLastSeen
    assert (f1.props["count"], f1.props["archived"], f1.props["sample"]) == (3, False, False)
    assert one(store, graph, VertexRef(IP, "8.8.8.8")).props["country"] == "US"


def write_findings(path: Path, *findings: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(f) + "\n" for f in findings))
    return path


V1 = finding("fx", severity=2, title="old", updatedAt="2024-05-01T11:00:00Z")
V1["service"] = {"count": 1, "archived": False, "eventLastSeen": "2024-05-01T10:50:00Z"}
V2 = finding("fx", severity=8, title="new", updatedAt="2024-05-02T09:00:00Z")
V2["service"] = {"count": 9, "archived": True, "eventLastSeen": "2024-05-02T08:00:00Z"}


@pytest.mark.parametrize("order", ["old-first", "new-first"])
def test_the_newest_version_wins_in_either_load_order(tmp_path: Path, order: str) -> None:
    older = write_findings(tmp_path / "older.jsonl", V1, finding("other"))
    newer = write_findings(tmp_path / "newer.jsonl", V2, finding("other2"))
    files = [older, newer] if order == "old-first" else [newer, older]
    store: GraphStore | None = None
    graph = ""
    for path in files:  # separate loads: the merge happens in the store, not in one batch
        report, store = load(tmp_path / "g.db", [path])
        graph = report.graph or graph
        if path != files[-1]:
            store.close()
    assert store is not None
    ((graph, _),) = [(g.arn, g) for g in store.list_graphs()]
    v = one(store, graph, VertexRef(FINDING, "fx"))
    assert (v.props["severity"], v.props["title"], v.props["count"]) == (8.0, "new", 9)
    assert (v.props["archived"], v.props["updated"]) == (True, 1714640400)
    assert v.last == 1714636800  # the newest eventLastSeen
    # each version is one observation, in the hour of its last observed time
    acct = store.series(
        graph, [VertexRef(FINDING, "fx")], "BELONGS_TO", direction=Direction.OUT, start=0, end=2**40
    )
    assert acct[VertexRef(FINDING, "fx")] == [(1714557600, (1,)), (1714636800, (1,))]


def test_the_same_finding_in_two_files_does_not_sum_its_count(tmp_path: Path) -> None:
    a = write_findings(tmp_path / "a.jsonl", V2)
    bridge = {"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": V2}
    (tmp_path / "b.json").write_text(json.dumps(bridge))
    report, store = load(tmp_path / "g.db", [a, tmp_path / "b.json"])
    graph = report.graph or ""
    v = one(store, graph, VertexRef(FINDING, "fx"))
    assert v.props["count"] == 9  # GuardDuty's counter: the latest, never the sum
    # two files are two observations of the finding (the ledger dedups objects, not records)
    acct = store.series(
        graph, [VertexRef(FINDING, "fx")], "BELONGS_TO", direction=Direction.OUT, start=0, end=2**40
    )
    assert acct[VertexRef(FINDING, "fx")] == [(1714636800, (2,))]


def test_a_finding_and_cloudtrail_share_the_session_vertex(tmp_path: Path) -> None:
    identity = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE000000001:alice",
        "arn": "arn:aws:sts::111122223333:assumed-role/admin/alice",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE000000001",
                "arn": "arn:aws:iam::111122223333:role/ops/admin",
                "userName": "admin",
            }
        },
    }
    trail = write(
        tmp_path / "ct.json",
        delivery([event("ListBuckets", "2024-05-01T10:00:00Z", userIdentity=identity)]),
    )
    key = {
        "principalId": "AROAEXAMPLE000000001:alice",
        "userName": "admin",
        "userType": "AssumedRole",
    }
    gd = write_findings(tmp_path / "gd.jsonl", finding(resource={"accessKeyDetails": key}))
    report, store = load(tmp_path / "g.db", [trail, gd])
    session = VertexRef(SESSION, "AROAEXAMPLE000000001:alice")
    assert (session, "resource", (1,)) in involves(store, report.graph or "", "f1")
    props = one(store, report.graph or "", session).props
    assert props["arn"] == "arn:aws:sts::111122223333:assumed-role/admin/alice"
    role = one(store, report.graph or "", VertexRef(ROLE, "AROAEXAMPLE000000001")).props
    assert role["arn"] == "arn:aws:iam::111122223333:role/ops/admin"  # CloudTrail's, with path


def test_every_dataset_guardduty_file_loads_without_errors(tmp_path: Path) -> None:
    paths = [DATASETS / name for name in GUARDDUTY_FILES]
    report, store = load(tmp_path / "g.db", paths)
    graph = report.graph or ""
    ledger = store.ledger(graph, [str(p.resolve()) for p in paths])
    got = {
        str(Path(uri).relative_to(DATASETS.resolve())): (
            e.status,
            e.kind,
            e.records,
            e.loaded,
            e.errors,
        )
        for uri, (e,) in ledger.items()
    }
    assert got == {
        name: ("loaded", "guardduty", r, n, ()) for name, (r, n) in GUARDDUTY_FILES.items()
    }
    # Panther's six test variants of one finding (same id and updatedAt): the largest value wins
    v = one(store, graph, VertexRef(FINDING, "eeb88ab56556eb7771b266670dddee5a"))
    assert (v.props["severity"], v.props["sample"]) == (8.0, True)
    assert export_text(store).count('"label":"Finding"') == 9
