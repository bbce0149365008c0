"""The management API on every store backend (SQLite and JanusGraph): members, packages, tags and
membership-obeying ingestion through the same boto3 calls."""

from __future__ import annotations

import json
from pathlib import Path

from graph.store import GraphStore
from tests.integration.helpers import delivery, event, export_text, load, write
from tests.integration.membership_support import MEMBER, OTHER, STRANGER, client, server


def test_membership_on_every_backend(store: GraphStore, tmp_path: Path) -> None:
    with server(store.uri) as base:
        admin, member, other = client(base, "admin"), client(base, "member"), client(base, "other")
        arn = admin.create_graph(Tags={"k": "v"})["GraphArn"]
        admin.create_members(
            GraphArn=arn,
            Accounts=[
                {"AccountId": MEMBER, "EmailAddress": "m@example.com"},
                {"AccountId": OTHER, "EmailAddress": "o@example.com"},
            ],
        )
        member.accept_invitation(GraphArn=arn)
        listed = admin.list_members(GraphArn=arn)["MemberDetails"]
        assert {m["AccountId"]: m["Status"] for m in listed} == {
            MEMBER: "ENABLED",
            OTHER: "INVITED",
        }
        assert other.list_invitations()["Invitations"][0]["GraphArn"] == arn
        admin.update_datasource_packages(GraphArn=arn, DatasourcePackages=["EKS_AUDIT"])
        admin.tag_resource(ResourceArn=arn, Tags={"k2": "v2"})
        assert admin.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"k": "v", "k2": "v2"}

    records = [
        event("GetObject", "2025-06-01T10:00:00Z", account=a, recipientAccountId=a)
        for a in (arn.split(":")[4], MEMBER, OTHER, STRANGER)
    ]
    report, _ = load(store, [write(tmp_path / "mixed.json", delivery(records))], graph=arn)
    assert report.skipped_accounts == {OTHER: 1, STRANGER: 1}
    accounts = {
        r["key"]
        for r in map(json.loads, export_text(store, arn).splitlines())
        if r["label"] == "AwsAccount" and r["type"] == "vertex"
    }
    assert accounts == {arn.split(":")[4], MEMBER}
    assert {v.account for v in store.volume(arn) if v.ingested} == {arn.split(":")[4], MEMBER}

    with server(store.uri) as base:
        admin = client(base, "admin")
        (detail,) = admin.get_members(GraphArn=arn, AccountIds=[MEMBER])["MemberDetails"]
        assert detail["VolumeUsageByDatasourcePackage"]["DETECTIVE_CORE"]["VolumeUsageInBytes"] > 0
        assert detail["DatasourcePackageIngestStates"]["EKS_AUDIT"] == "STARTED"
        admin.delete_members(GraphArn=arn, AccountIds=[OTHER])
        client(base, "member").disassociate_membership(GraphArn=arn)
        assert admin.list_members(GraphArn=arn)["MemberDetails"] == []
        admin.delete_graph(GraphArn=arn)
    assert arn not in {g.arn for g in store.list_graphs()}
