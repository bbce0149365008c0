"""Membership routing per record for every source: VPC flow records by their account-id (else
the file's AWSLogs/<account>/ path), GuardDuty findings by their AccountId, and objects too large
to read whole (staged apart) like small ones. Each graph gets its accounts' records only, other
accounts are skipped and counted, volume is recorded per account, and a reload is a no-op."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graph.membership import DETECTIVE_CORE
from graph.model import ENI, FINDING
from graph.sqlite import SqliteStore
from graph.store import GraphStore
from loaders import objects
from tests.integration.helpers import delivery, event, export_text, load, write
from tests.integration.test_membership_ingest import accept, accounts_in, graph_of, invite
from tests.unit.test_guardduty import finding

A, B, C, D, E = "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"
HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes"
    " start end action log-status\n"
)
START = 1_767_085_200  # 2025-12-30T09:00:00Z


def two_graphs(store: GraphStore) -> tuple[str, str]:
    """g1: administrator A with member B; g2: administrator E with member C (both ENABLED)."""
    g1, g2 = graph_of(store, A), graph_of(store, E)
    invite(store, g1, A, B)
    accept(store, g1, B)
    invite(store, g2, E, C)
    accept(store, g2, C)
    return g1, g2


def flow_line(account: str, n: int, *, account_field: bool = True) -> str:
    acct = f"{account} " if account_field else ""
    return (
        f"2 {acct}eni-{account[:3]}{n:02d} 10.0.{n}.1 198.51.100.{n} 443 5{n:04d} 6 10 4000"
        f" {START + n} {START + n + 60} ACCEPT OK\n"
    )


def mixed_flows(path: Path) -> Path:
    """B: 2 records, C: 3, D (in no graph): 1; interleaved, B's first."""
    lines = [(B, 1), (C, 2), (D, 3), (C, 4), (B, 5), (C, 6)]
    return write(path, (HEADER + "".join(flow_line(a, n) for a, n in lines)).encode())


def vertices(store: GraphStore, graph: str, label: str) -> set[str]:
    return {
        r["key"]
        for r in map(json.loads, export_text(store, graph).splitlines())
        if r["type"] == "vertex" and r["label"] == label
    }


def usage(store: GraphStore, graph: str) -> dict[str, tuple[int, int]]:
    rows = store.volume(graph)
    assert all(v.package == DETECTIVE_CORE for v in rows)
    return {v.account: (v.ingested, v.skipped) for v in rows}


def test_flow_records_go_to_the_graphs_of_their_accounts(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = two_graphs(store)
    f = mixed_flows(tmp_path / "in" / "mixed.log")

    report, _ = load(store, [f])

    assert vertices(store, g1, ENI) == {"eni-22201", "eni-22205"}
    assert vertices(store, g2, ENI) == {"eni-33302", "eni-33304", "eni-33306"}
    assert accounts_in(store, g1) == {B}
    assert accounts_in(store, g2) == {C}
    assert report.skipped_accounts == {D: 1}
    assert report.graph_records == {g1: 2, g2: 3}
    assert (report.records, report.loaded, report.skipped) == (6, 5, 1)
    assert (report.loaded_files, report.exit_code) == (1, 0)
    size = f.stat().st_size
    assert usage(store, g1) == {B: (size * 2 // 6, 0)}
    assert usage(store, g2) == {C: (size * 3 // 6, 0)}

    before = export_text(store, g1), export_text(store, g2)
    again, _ = load(store, [f])
    assert (again.already_loaded, again.records, again.loaded) == (1, 0, 0)
    assert again.skipped_accounts == {} and again.graph_records == {}
    assert (export_text(store, g1), export_text(store, g2)) == before
    assert usage(store, g1) == {B: (size * 2 // 6, 0)}


def test_flow_records_without_account_id_take_the_s3_layout_account(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = two_graphs(store)
    header = HEADER.replace("account-id ", "")
    key = "AWSLogs/{}/vpcflowlogs/us-east-1/2025/12/30/{}_vpcflowlogs_us-east-1_fl-1_x.log"
    files = [
        write(tmp_path / key.format(a, a), (header + flow_line(a, n, account_field=False)).encode())
        for a, n in ((C, 1), (D, 2))
    ]
    # account-id "-" in a file with the field: the path's account as well; others their own
    lines = flow_line(B, 3).replace(f" {B} ", " - ") + flow_line(C, 4) + flow_line(D, 5)
    dash = write(tmp_path / key.format(B, B), (HEADER + lines).encode())

    report, _ = load(store, [*files, dash])

    assert vertices(store, g1, ENI) == {"eni-22203"}
    assert vertices(store, g2, ENI) == {"eni-33301", "eni-33304"}
    assert report.skipped_accounts == {D: 2}
    assert report.graph_records == {g1: 1, g2: 2}


def test_flows_already_in_one_graph_are_loaded_into_the_other_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = two_graphs(store)
    f = mixed_flows(tmp_path / "mixed.log")
    first, _ = load(store, [f], graph=g1)
    assert first.graph_records == {g1: 2}
    before = export_text(store, g1)

    report, _ = load(store, [f])

    assert report.graph_records == {g2: 3}
    assert report.skipped_accounts == {D: 1}
    assert export_text(store, g1) == before
    assert vertices(store, g2, ENI) == {"eni-33302", "eni-33304", "eni-33306"}


def test_a_flow_file_of_unknown_accounts_only_is_skipped_and_counted(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = two_graphs(store)
    f = write(tmp_path / "d.log", (HEADER + flow_line(D, 1) + flow_line(D, 2)).encode())

    report, _ = load(store, [f])

    assert report.skipped_accounts == {D: 2}
    assert (report.records, report.loaded, report.skipped) == (2, 0, 2)
    assert vertices(store, g1, ENI) == vertices(store, g2, ENI) == set()
    again, _ = load(store, [f])
    assert again.already_loaded == 1


def findings_file(path: Path) -> Path:
    """One finding each of B, D and E, two of C (JSON lines)."""
    accounts = [(B, "fb"), (C, "fc1"), (D, "fd"), (E, "fe"), (C, "fc2")]
    lines = [
        json.dumps(
            finding(
                fid,
                accountId=acct,
                arn=f"arn:aws:guardduty:us-east-1:{acct}:detector/d/finding/{fid}",
            )
        )
        for acct, fid in accounts
    ]
    return write(path, ("\n".join(lines) + "\n").encode())


def test_findings_go_to_the_graphs_of_their_accounts(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = two_graphs(store)
    f = findings_file(tmp_path / "findings.jsonl")

    report, _ = load(store, [f])

    assert vertices(store, g1, FINDING) == {"fb"}
    assert vertices(store, g2, FINDING) == {"fc1", "fc2", "fe"}
    assert accounts_in(store, g1) == {B}
    assert accounts_in(store, g2) == {C, E}
    assert report.skipped_accounts == {D: 1}
    assert report.graph_records == {g1: 1, g2: 3}
    assert (report.records, report.loaded, report.skipped) == (5, 4, 1)
    size = f.stat().st_size
    assert usage(store, g1) == {B: (size // 5, 0)}
    assert usage(store, g2) == {C: (size * 2 // 5, 0), E: (size // 5, 0)}

    before = export_text(store, g1), export_text(store, g2)
    again, _ = load(store, [f])
    assert (again.already_loaded, again.loaded) == (1, 0)
    assert (export_text(store, g1), export_text(store, g2)) == before


def test_a_bad_finding_of_an_unknown_account_is_still_an_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, _ = two_graphs(store)
    bad = finding("fx", accountId=D, updatedAt="not a time")
    good = finding("fb", accountId=B)
    f = write(tmp_path / "f.jsonl", f"{json.dumps(bad)}\n{json.dumps(good)}\n".encode())

    report, _ = load(store, [f])

    assert report.record_errors == 1 and report.partial_files == 1
    assert report.skipped_accounts == {}
    assert vertices(store, g1, FINDING) == {"fb"}


@pytest.fixture
def large_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every object takes the path of objects too large to read whole (staged apart)."""
    monkeypatch.setattr(objects, "SMALL_OBJECT", 0)


@pytest.mark.usefixtures("large_objects")
def test_large_objects_are_routed_per_record(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = two_graphs(store)
    records = [
        event(name, f"2025-12-30T10:0{i}:00Z", account=acct, user=f"user{acct[:3]}")
        for acct in (B, C, D)
        for i, name in enumerate(("ListBuckets", "GetObject"))
    ]
    trail = write(tmp_path / "trail.json.gz", delivery(records), compress=True)
    flows = mixed_flows(tmp_path / "mixed.log")
    found = findings_file(tmp_path / "findings.jsonl")

    report, _ = load(store, [trail, flows, found])

    assert accounts_in(store, g1) == {B}
    assert accounts_in(store, g2) == {C, E}
    assert vertices(store, g1, ENI) == {"eni-22201", "eni-22205"}
    assert vertices(store, g2, FINDING) == {"fc1", "fc2", "fe"}
    assert report.skipped_accounts == {D: 2 + 1 + 1}
    assert report.graph_records == {g1: 2 + 2 + 1, g2: 2 + 3 + 3}
    again, _ = load(store, [trail, flows, found])
    assert (again.already_loaded, again.loaded) == (3, 0)


@pytest.mark.usefixtures("large_objects")
def test_a_large_object_failing_late_counts_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = two_graphs(store)
    records = [event("ListBuckets", f"2025-12-30T10:{i:02d}:00Z", account=B) for i in range(50)]
    records += [event("ListBuckets", "2025-12-30T11:00:00Z", account=D)]
    data = write(tmp_path / "t.json.gz", delivery(records), compress=True).read_bytes()
    broken = write(tmp_path / "in" / "broken.json.gz", data[: len(data) * 3 // 4])

    report, _ = load(store, [broken])

    assert report.failed_files == 1
    assert report.skipped_accounts == {} and report.graph_records == {}
    assert accounts_in(store, g1) == set()
    assert usage(store, g1) == {} and usage(store, g2) == {}


@pytest.mark.parametrize("separator", [" ", "\t"], ids=["columnar", "per-record"])
def test_a_routed_graph_holds_what_a_load_of_its_records_alone_writes(
    tmp_path: Path, separator: str
) -> None:
    """Both flow paths (columnar; tabs take the per-record path) split by account, and each
    graph's part is staged exactly as a file of that account's records alone would be."""
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = two_graphs(store)
    header, *records = mixed_flows(tmp_path / "mixed.log").read_text().splitlines(keepends=True)
    text = header + "".join(r.replace(" ", separator) for r in records)
    mixed = write(tmp_path / "in" / "mixed.log", text.encode())
    assert load(store, [mixed])[0].graph_records == {g1: 2, g2: 3}

    for graph, account in ((g1, B), (g2, C)):
        lines = text.splitlines(keepends=True)
        alone = lines[0] + "".join(line for line in lines[1:] if account in line)
        f = write(tmp_path / account / "alone.log", alone.encode())
        report, single = load(tmp_path / account / "g.db", [f])
        assert report.graph is not None
        expected = export_text(single, report.graph).replace(report.graph, graph)
        assert export_text(store, graph) == expected


@pytest.mark.parametrize("shape", ["delivery", "lines"])
def test_routed_record_errors_name_the_record_as_a_single_graph_load_does(
    tmp_path: Path, shape: str
) -> None:
    """Routed staging hands events over one at a time: an error must still name the record's
    position in its file (every error once said "record 0" for a delivery object)."""
    records = [
        event("ListBuckets", "2025-12-30T09:00:01Z", account=B),
        event("ListBuckets", "2025-12-30T09:00:02Z", account=C),
        event("ListBuckets", "yesterday", account=B),
        event("ListBuckets", "2025-12-30T09:00:03Z", account=C),
        event("ListBuckets", "2025-12-30T25:00:00Z", account=C),
    ]
    data = (
        delivery(records)
        if shape == "delivery"
        else "".join(json.dumps(r) + "\n" for r in records).encode()
    )
    f = write(tmp_path / "in" / "trail.json", data)
    routed = SqliteStore(tmp_path / "routed.db")
    two_graphs(routed)
    report, _ = load(routed, [f])
    single, _ = load(tmp_path / "single.db", [f])
    where = ["record 2", "record 4"] if shape == "delivery" else ["line 3", "line 5"]
    assert [e.split(": ")[1] for e in report.errors] == where
    assert report.errors == single.errors
    assert report.record_errors == single.record_errors == 2


def test_a_bad_event_of_an_account_in_no_graph_is_still_an_error(tmp_path: Path) -> None:
    """As for flow records and findings: malformed is an error whatever the account; a good
    event of such an account is skipped and counted by account."""
    store = SqliteStore(tmp_path / "g.db")
    g1, _ = two_graphs(store)
    records = [
        event("ListBuckets", "2025-12-30T09:00:01Z", account=B),
        event("ListBuckets", "yesterday", account=D),
        event("ListBuckets", "2025-12-30T09:00:02Z", account=D),
        event("AssumeRole", "2025-12-30T09:00:03Z", account=D, source="sts.amazonaws.com"),
    ]
    f = write(tmp_path / "in" / "trail.json", delivery(records))

    report, _ = load(store, [f])

    assert [e.split(": ", 1)[1] for e in report.errors] == [
        "record 1: not an ISO 8601 timestamp: 'yesterday'"
    ]
    assert (report.records, report.loaded, report.skipped) == (4, 1, 2)
    assert report.skipped_accounts == {D: 2}
    assert report.partial_files == 1
    assert accounts_in(store, g1) == {B}
