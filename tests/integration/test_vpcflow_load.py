"""VPC flow files through the real Loader into SQLite: statuses, graph shape, all-or-nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from graph.batch import WriteBatch
from graph.model import ENI, FLOW, HAS_INTERFACE, INSTANCE, VertexRef
from graph.sqlite import SqliteStore
from graph.store import Direction
from loaders.sources import iter_objects
from tests.conftest import DATA
from tests.integration.helpers import DATASETS, delivery, event, export_text, load, write


class _Writes(SqliteStore):
    """A real store asking for writes of at most two flows, counting the writes."""

    batch_rows_hint = 2

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes = 0

    def write(self, batch: WriteBatch) -> None:
        self.writes += 1
        super().write(batch)


FIXTURES = DATA / "vpcflow"
DATASET_FLOWS = {
    "criblpacks-cribl-vpc-flow-for-security-teams/ZP04h5.json": (100, 99, 1),
    "criblpacks-cribl-vpc-flow-for-security-teams/ZP04h5_raw_lines.log": (99, 99, 0),
    "panther-labs-panther-analysis/aws_vpcflow_rule_tests.jsonl": (23, 0, 23),
    "panther-labs-panther-analysis/test_scenarios_compromised-root-creds_attacker_vpc.log": (
        6,
        6,
        0,
    ),
}


def test_fixtures_load_with_statuses_and_the_corrupt_ones_stage_nothing(tmp_path: Path) -> None:
    report, store = load(tmp_path / "g.db", [FIXTURES])
    graph = report.graph or ""
    uris = [o.uri for o in iter_objects([str(FIXTURES)])]
    ledger = {Path(u).name: e for u, (e,) in store.ledger(graph, uris).items()}
    assert ledger["v2_bad_record.log"].status == "partial"
    assert ledger["v2_bad_record.log"].errors == (
        "line 4: field dstport: not a port number: 'http'",
    )
    assert (ledger["v2_bad_record.log"].records, ledger["v2_bad_record.log"].loaded) == (4, 3)
    assert ledger["corrupt.log.gz"].status == ledger["corrupt.parquet"].status == "failed"
    assert ledger["v3_instance.parquet"].status == ledger["v2_no_header.log"].status == "loaded"
    gz = next(e for name, e in ledger.items() if name.endswith(".log.gz") and "corrupt" not in name)
    assert (gz.status, gz.records, gz.loaded, gz.skipped) == ("loaded", 7, 5, 2)
    assert report.record_errors == 1

    # the corrupt files contributed nothing: same graph as without them
    clean = tmp_path / "clean"
    shutil.copytree(FIXTURES, clean)
    (clean / "corrupt.log.gz").unlink()
    (clean / "corrupt.parquet").unlink()
    _, other = load(tmp_path / "clean.db", [clean])
    assert export_text(store) == export_text(other)

    # instance rollup, HAS_INTERFACE, IPv6 peer, direction from flow-direction
    inst = VertexRef(INSTANCE, "i-0abc1234def567890")
    eni = VertexRef(ENI, "eni-0aaa1111bbb22223c")
    flows = store.neighbours(graph, [inst, eni], FLOW, direction=Direction.OUT)
    as_rows = {ref: sorted((n.ref.key, n.qualifier, n.counts) for n in flows[ref]) for ref in flows}
    assert (
        as_rows[inst]
        == as_rows[eni]
        == [
            ("2001:db8::77", "6/22/40000/ingress/REJECT", (180, 0, 3, 0)),
            ("203.0.113.9", "6/443/51000/egress/ACCEPT", (0, 9000, 0, 8)),
            ("203.0.113.9", "6/443/51000/ingress/ACCEPT", (4800, 0, 12, 0)),
        ]
    )
    nics = store.neighbours(graph, [inst], HAS_INTERFACE, direction=Direction.OUT)[inst]
    assert [(n.ref, n.counts) for n in nics] == [(eni, (4,))]
    props = store.vertices(graph, [eni])[eni].props
    assert dict(props)["region"] == "eu-west-1"  # from the S3 key


def test_flow_batches_are_sized_by_the_store_unless_the_options_say(tmp_path: Path) -> None:
    small = _Writes(tmp_path / "small.db")
    report, _ = load(small, [FIXTURES])
    # each file with two flows or more fills a batch of the store's size
    assert small.writes >= 3 and report.record_errors == 1
    large = _Writes(tmp_path / "large.db")
    load(large, [FIXTURES], batch_flows=1_000_000)
    assert large.writes == 1
    assert export_text(small) == export_text(large)


def test_dataset_flow_files_load_without_errors(tmp_path: Path) -> None:
    paths = [DATASETS / name for name in DATASET_FLOWS]
    report, store = load(tmp_path / "g.db", paths)
    assert (report.record_errors, report.failed) == (0, [])
    ledger = store.ledger(report.graph or "", [str(p.resolve()) for p in paths])
    for name, expected in DATASET_FLOWS.items():
        (entry,) = ledger[str((DATASETS / name).resolve())]
        assert (entry.status, entry.kind, entry.errors) == ("loaded", "vpcflow", ()), name
        assert (entry.records, entry.loaded, entry.skipped) == expected, name


def test_cloudtrail_interface_events_give_has_interface(tmp_path: Path) -> None:
    attach = event(
        "AttachNetworkInterface",
        "2024-03-05T10:00:00Z",
        source="ec2.amazonaws.com",
        requestParameters={"networkInterfaceId": "eni-0123", "instanceId": "i-0456"},
        responseElements={"attachmentId": "eni-attach-1"},
    )
    create = event(
        "CreateNetworkInterface",
        "2024-03-05T10:01:00Z",
        source="ec2.amazonaws.com",
        responseElements={
            "networkInterface": {
                "networkInterfaceId": "eni-0789",
                "vpcId": "vpc-1",
                "subnetId": "s",
            }
        },
    )
    path = write(tmp_path / "trail.json", delivery([attach, create]))
    report, store = load(tmp_path / "g.db", [path])
    graph = report.graph or ""
    inst = VertexRef(INSTANCE, "i-0456")
    (nic,) = store.neighbours(graph, [inst], HAS_INTERFACE, direction=Direction.OUT)[inst]
    assert nic.ref == VertexRef(ENI, "eni-0123")
    created = store.vertices(graph, [VertexRef(ENI, "eni-0789")])[VertexRef(ENI, "eni-0789")]
    assert dict(created.props) == {
        "account": "111122223333",
        "region": "us-east-1",
        "vpc_id": "vpc-1",
        "subnet_id": "s",
    }
