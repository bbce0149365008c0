"""Ingestion obeys membership: a record goes to each graph whose administrator or ENABLED member
owns its account; other accounts' records are skipped and counted; volume is recorded per
account and day; leaving a graph stops ingestion; a graph made by a load keeps taking all."""

from __future__ import annotations

import json
from pathlib import Path

from api.auth import Caller, Identity
from api.services import membership, membership_graphs
from api.services.membership_settings import MembershipSettings
from graph.membership import DETECTIVE_CORE
from graph.model import ACCOUNT, VertexRef
from graph.sqlite import SqliteStore
from graph.store import GraphStore
from tests.integration.helpers import delivery, event, export_text, load, write

A, B, C, D, E = "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"
NOW = 1_767_225_600  # 2026-01-01
SETTINGS = MembershipSettings()


def who(account: str) -> Caller:
    return Caller(Identity(f"acct-{account}", account))


def graph_of(store: GraphStore, admin: str) -> str:
    info = membership_graphs.create_graph(
        store=store, caller=who(admin), region="us-east-1", tags=None, now=NOW
    )
    return info.arn


def invite(store: GraphStore, graph: str, admin: str, *accounts: str) -> None:
    membership.create_members(
        store=store,
        caller=who(admin),
        graph=graph,
        accounts=[(a, f"{a}@example.com") for a in accounts],
        settings=SETTINGS,
        now=NOW,
    )


def accept(store: GraphStore, graph: str, account: str) -> None:
    membership.accept_invitation(
        store=store, caller=who(account), graph=graph, settings=SETTINGS, now=NOW
    )


def trail(path: Path, *accounts: str, hour: str = "10") -> Path:
    """One delivery file with two events of each account (recipientAccountId = the account)."""
    records = [
        event(
            name,
            f"2025-12-30T{hour}:0{i}:00Z",
            account=acct,
            user=f"user{acct[:3]}",
            recipientAccountId=acct,
        )
        for acct in accounts
        for i, name in enumerate(("ListBuckets", "GetObject"))
    ]
    return write(path, delivery(records))


def accounts_in(store: GraphStore, graph: str) -> set[str]:
    return {
        r["key"]
        for r in map(json.loads, export_text(store, graph).splitlines())
        if r["type"] == "vertex" and r["label"] == ACCOUNT
    }


def test_records_go_to_the_graphs_of_their_accounts(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = graph_of(store, A), graph_of(store, E)
    invite(store, g1, A, B, C)
    accept(store, g1, B)  # C stays INVITED
    invite(store, g2, E, B)
    accept(store, g2, B)
    mixed = trail(tmp_path / "in" / "mixed.json", A, B, C, D, E)

    report, _ = load(store, [mixed])

    assert sorted(report.graphs) == sorted([g1, g2])
    assert accounts_in(store, g1) == {A, B}
    assert accounts_in(store, g2) == {B, E}
    assert report.graph_records == {g1: 4, g2: 4}
    assert report.skipped_accounts == {C: 2, D: 2}
    assert (report.records, report.loaded, report.skipped) == (10, 6, 4)
    assert report.exit_code == 0
    # volume: the file's bytes shared by its accounts' records; C's recorded as skipped in g1
    size = mixed.stat().st_size
    usage = {(v.account, v.package): (v.ingested, v.skipped) for v in store.volume(g1)}
    assert usage == {
        (A, DETECTIVE_CORE): (size * 2 // 10, 0),
        (B, DETECTIVE_CORE): (size * 2 // 10, 0),
        (C, DETECTIVE_CORE): (0, size * 2 // 10),
    }
    assert {v.account for v in store.volume(g2)} == {B, E}
    # the same input again: every graph's ledger has it
    again, _ = load(store, [mixed])
    assert (again.already_loaded, again.loaded) == (1, 0)
    assert store.volume(g1)[0].ingested == size * 2 // 10


def test_leaving_or_removal_stops_ingestion(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1 = graph_of(store, A)
    invite(store, g1, A, B, C)
    accept(store, g1, B)
    accept(store, g1, C)
    load(store, [trail(tmp_path / "one.json", A, B, C)])
    assert accounts_in(store, g1) == {A, B, C}

    membership.disassociate_membership(store=store, caller=who(B), graph=g1)
    membership.delete_members(store=store, caller=who(A), graph=g1, account_ids=[C])
    report, _ = load(store, [trail(tmp_path / "two.json", A, B, C, hour="11")])

    assert report.skipped_accounts == {B: 2, C: 2}
    hours = [
        r["hours"]
        for r in map(json.loads, export_text(store, g1).splitlines())
        if r["type"] == "edge" and r["label"] == "CALLED" and r["src"] == ["AwsAccount", B]
    ]
    assert hours and all(len(h) == 1 for h in hours)  # hour 10 only: nothing from hour 11


def test_a_file_loaded_into_one_graph_is_loaded_into_the_others_only(tmp_path: Path) -> None:
    """What a crash between two graphs' writes leaves: the object in one ledger only."""
    store = SqliteStore(tmp_path / "g.db")
    g1, g2 = graph_of(store, A), graph_of(store, E)
    invite(store, g1, A, B)
    accept(store, g1, B)
    invite(store, g2, E, B)
    accept(store, g2, B)
    f = trail(tmp_path / "in.json", A, B, E)
    first, _ = load(store, [f], graph=g1)
    assert first.graph_records == {g1: 4}
    before = export_text(store, g1)

    report, _ = load(store, [f])

    assert report.graph_records == {g2: 4}
    assert report.skipped_accounts == {}  # A's records: in g1, whose ledger has the file
    assert export_text(store, g1) == before  # nothing counted twice
    assert accounts_in(store, g2) == {B, E}


def test_flow_logs_and_findings_are_routed_by_their_account(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    g1 = graph_of(store, A)
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets"
    header += " bytes start end action log-status\n"
    line = "2 {acct} eni-0{n} 10.0.0.{n} 198.51.100.{n} 443 5000{n} 6 10 4000 1767085200 "
    line += "1767085260 ACCEPT OK\n"
    mine = write(tmp_path / "flows" / "a.log", (header + line.format(acct=A, n=1)).encode())
    theirs = write(tmp_path / "flows" / "d.log", (header + line.format(acct=D, n=2)).encode())

    report, _ = load(store, [mine, theirs])

    assert report.skipped_accounts == {D: 1}
    keys = {
        r["key"]
        for r in map(json.loads, export_text(store, g1).splitlines())
        if r["type"] == "vertex"
    }
    assert "eni-01" in keys and "eni-02" not in keys


def test_a_graph_made_by_a_load_takes_every_account(tmp_path: Path) -> None:
    report, store = load(tmp_path / "g.db", [trail(tmp_path / "in.json", A, B, D)])
    (info,) = store.list_graphs()
    assert info.takes_all_accounts
    assert accounts_in(store, info.arn) == {A, B, D}
    assert report.skipped_accounts == {}
    # members can still be managed; the graph keeps taking everyone
    invite(store, info.arn, info.admin_account, C)
    report, _ = load(store, [trail(tmp_path / "more.json", C, E)])
    assert accounts_in(store, info.arn) == {A, B, C, D, E}
    assert store.members(info.arn)[0].account_id == C
    assert VertexRef(ACCOUNT, E) in store.vertices(info.arn, [VertexRef(ACCOUNT, E)])
