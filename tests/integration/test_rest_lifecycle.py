"""The whole membership lifecycle through the real boto3 `detective` client against uvicorn:
graphs, tags, invitations and their answers, packages, leaving, removal, deletion — and the
refusals (strangers, members acting as administrators, bad signatures, stale dates)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.membership_support import (
    ADMIN,
    MEMBER,
    OTHER,
    client,
    refusal,
    server,
    signed_at,
    sqlite_uri,
)

MISSING = f"arn:aws:detective:us-east-1:{ADMIN}:graph:" + "0" * 32


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    with server(sqlite_uri(tmp_path / "api.db")) as url:
        yield url


def statuses(details: list[dict[str, Any]]) -> dict[str, str]:
    return {d["AccountId"]: d["Status"] for d in details}


def test_graph_lifecycle_tags_and_idempotent_create(base: str) -> None:
    admin = client(base, "admin")
    arn = admin.create_graph(Tags={"team": "secops"})["GraphArn"]
    assert arn.startswith(f"arn:aws:detective:us-east-1:{ADMIN}:graph:")
    assert admin.create_graph()["GraphArn"] == arn  # one graph per account and region
    (listed,) = admin.list_graphs()["GraphList"]
    assert listed["Arn"] == arn and isinstance(listed["CreatedTime"], datetime)
    # another region is another graph; ListGraphs lists the signed region's only
    west = client(base, "admin", region="eu-west-1")
    west_arn = west.create_graph()["GraphArn"]
    assert ":eu-west-1:" in west_arn and west_arn != arn
    assert [g["Arn"] for g in west.list_graphs()["GraphList"]] == [west_arn]

    admin.tag_resource(ResourceArn=arn, Tags={"env": "prod", "cost-center": "42"})
    admin.untag_resource(ResourceArn=arn, TagKeys=["cost-center"])
    tags = admin.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert tags == {"team": "secops", "env": "prod"}

    packages = admin.list_datasource_packages(GraphArn=arn)["DatasourcePackages"]
    assert packages["DETECTIVE_CORE"]["DatasourcePackageIngestState"] == "STARTED"
    assert packages["EKS_AUDIT"]["DatasourcePackageIngestState"] == "STOPPED"
    admin.update_datasource_packages(GraphArn=arn, DatasourcePackages=["EKS_AUDIT"])
    packages = admin.list_datasource_packages(GraphArn=arn)["DatasourcePackages"]
    eks = packages["EKS_AUDIT"]
    assert eks["DatasourcePackageIngestState"] == "STARTED"
    assert set(eks["LastIngestStateChange"]) == {"STOPPED", "STARTED"}
    page = admin.list_datasource_packages(GraphArn=arn, MaxResults=2)
    rest = admin.list_datasource_packages(GraphArn=arn, NextToken=page["NextToken"])
    assert len(page["DatasourcePackages"]) == 2 and len(rest["DatasourcePackages"]) == 1
    assert "NextToken" not in rest

    admin.delete_graph(GraphArn=arn)
    assert admin.list_graphs()["GraphList"] == []
    assert refusal(lambda: admin.delete_graph(GraphArn=arn))[:2] == (
        "ResourceNotFoundException",
        404,
    )
    assert refusal(lambda: admin.list_tags_for_resource(ResourceArn=arn))[0] == (
        "ResourceNotFoundException"
    )


def test_invitations_are_answered_and_members_leave(base: str) -> None:
    admin, member, other = client(base, "admin"), client(base, "member"), client(base, "other")
    arn = admin.create_graph()["GraphArn"]
    created = admin.create_members(
        GraphArn=arn,
        Message="please join",
        DisableEmailNotification=True,
        Accounts=[
            {"AccountId": MEMBER, "EmailAddress": "member@example.com"},
            {"AccountId": OTHER, "EmailAddress": "other@example.com"},
            {"AccountId": "888877776666", "EmailAddress": "not-an-email"},
            {"AccountId": "12345678901x", "EmailAddress": "bad@example.com"},
            {"AccountId": ADMIN, "EmailAddress": "admin@example.com"},
        ],
    )
    assert statuses(created["Members"]) == {
        MEMBER: "INVITED",
        OTHER: "INVITED",
        "888877776666": "VERIFICATION_FAILED",
        "12345678901x": "VERIFICATION_FAILED",
    }
    first = next(m for m in created["Members"] if m["AccountId"] == MEMBER)
    assert first["AdministratorId"] == ADMIN and first["InvitationType"] == "INVITATION"
    assert first["EmailAddress"] == "member@example.com"
    assert isinstance(first["InvitedTime"], datetime)
    assert [u["AccountId"] for u in created["UnprocessedAccounts"]] == [ADMIN]
    again = admin.create_members(
        GraphArn=arn, Accounts=[{"AccountId": MEMBER, "EmailAddress": "member@example.com"}]
    )
    assert (
        again["Members"] == [] and "already a member" in again["UnprocessedAccounts"][0]["Reason"]
    )

    (invitation,) = member.list_invitations()["Invitations"]
    assert (invitation["GraphArn"], invitation["Status"]) == (arn, "INVITED")
    member.accept_invitation(GraphArn=arn)
    assert refusal(lambda: member.accept_invitation(GraphArn=arn))[:2] == ("ConflictException", 409)
    other.reject_invitation(GraphArn=arn)
    assert other.list_invitations()["Invitations"] == []
    assert refusal(lambda: other.accept_invitation(GraphArn=arn))[0] == "ResourceNotFoundException"

    got = admin.get_members(GraphArn=arn, AccountIds=[MEMBER, OTHER])
    (detail,) = got["MemberDetails"]
    assert detail["Status"] == "ENABLED"
    assert detail["DatasourcePackageIngestStates"] == {
        "DETECTIVE_CORE": "STARTED",
        "EKS_AUDIT": "STOPPED",
        "ASFF_SECURITYHUB_FINDING": "STOPPED",
    }
    assert [u["AccountId"] for u in got["UnprocessedAccounts"]] == [OTHER]
    # the member's own view of its packages, and the administrator's
    mine = member.batch_get_membership_datasources(GraphArns=[arn, MISSING])
    (own,) = mine["MembershipDatasources"]
    assert own["DatasourcePackageIngestHistory"]["DETECTIVE_CORE"]["STARTED"]["Timestamp"]
    assert [u["GraphArn"] for u in mine["UnprocessedGraphs"]] == [MISSING]
    theirs = admin.batch_get_graph_member_datasources(
        GraphArn=arn, AccountIds=[MEMBER, ADMIN, OTHER]
    )
    assert [d["AccountId"] for d in theirs["MemberDatasources"]] == [MEMBER, ADMIN]
    assert [u["AccountId"] for u in theirs["UnprocessedAccounts"]] == [OTHER]
    admin.update_datasource_packages(GraphArn=arn, DatasourcePackages=["ASFF_SECURITYHUB_FINDING"])
    (detail,) = admin.get_members(GraphArn=arn, AccountIds=[MEMBER])["MemberDetails"]
    assert detail["DatasourcePackageIngestStates"]["ASFF_SECURITYHUB_FINDING"] == "STARTED"

    # ListMembers pages through everything, in account order, without repeats
    seen, token = [], None
    while True:
        kwargs: dict[str, Any] = {"GraphArn": arn, "MaxResults": 1}
        if token:
            kwargs["NextToken"] = token
        out = admin.list_members(**kwargs)
        seen += [m["AccountId"] for m in out["MemberDetails"]]
        token = out.get("NextToken")
        if not token:
            break
    assert seen == sorted([MEMBER, "888877776666", "12345678901x"])

    member.disassociate_membership(GraphArn=arn)
    assert member.list_invitations()["Invitations"] == []
    assert refusal(lambda: member.disassociate_membership(GraphArn=arn))[0] == (
        "ResourceNotFoundException"
    )
    deleted = admin.delete_members(GraphArn=arn, AccountIds=["888877776666", MEMBER, ADMIN])
    assert deleted["AccountIds"] == ["888877776666"]
    assert {u["AccountId"] for u in deleted["UnprocessedAccounts"]} == {MEMBER, ADMIN}


def test_refusals(base: str) -> None:
    admin, member, stranger = (
        client(base, "admin"),
        client(base, "member"),
        client(base, "stranger"),
    )
    arn = admin.create_graph()["GraphArn"]
    admin.create_members(
        GraphArn=arn, Accounts=[{"AccountId": MEMBER, "EmailAddress": "m@example.com"}]
    )
    member.accept_invitation(GraphArn=arn)
    # strangers and members cannot act as the administrator
    for who in (stranger, member):
        assert refusal(lambda who=who: who.list_members(GraphArn=arn))[:2] == (
            "AccessDeniedException",
            403,
        )
        code, _, _ = refusal(
            lambda who=who: who.create_members(
                GraphArn=arn, Accounts=[{"AccountId": "121212121212", "EmailAddress": "x@y.com"}]
            )
        )
        assert code == "AccessDeniedException"
        assert refusal(lambda who=who: who.delete_graph(GraphArn=arn))[0] == "AccessDeniedException"
        assert refusal(lambda who=who: who.tag_resource(ResourceArn=arn, Tags={"a": "b"}))[0] == (
            "AccessDeniedException"
        )
    assert stranger.list_graphs()["GraphList"] == []
    assert refusal(lambda: stranger.accept_invitation(GraphArn=arn))[0] == (
        "ResourceNotFoundException"
    )
    # only the organization's management account names its administrator (none configured)
    assert refusal(lambda: admin.enable_organization_admin_account(AccountId=MEMBER))[0] == (
        "AccessDeniedException"
    )
    # malformed input: the model's ValidationException with its ErrorCode
    code, status, r = refusal(lambda: admin.list_members(GraphArn="arn:aws:detective:nope"))
    assert (code, status, r["ErrorCode"]) == ("ValidationException", 400, "INVALID_GRAPH_ARN")
    code, _, r = refusal(lambda: admin.list_members(GraphArn=arn, NextToken="garbage"))
    assert (code, r["ErrorCode"]) == ("ValidationException", "INVALID_REQUEST_BODY")
    code, _, r = refusal(lambda: admin.tag_resource(ResourceArn=arn, Tags={"aws:x": "y"}))
    assert code == "ValidationException"
    assert refusal(lambda: admin.delete_graph(GraphArn=MISSING))[0] == "ResourceNotFoundException"
    too_many = [{"AccountId": f"{n:012d}", "EmailAddress": "a@b.io"} for n in range(51)]
    code, status, r = refusal(lambda: admin.create_members(GraphArn=arn, Accounts=too_many))
    assert (code, status, r["ErrorCode"]) == ("ValidationException", 400, "INVALID_REQUEST_BODY")
    # signatures: a wrong secret, and a body changed after signing
    forged = client(base, "admin", secret="not-the-secret")
    assert refusal(forged.list_graphs)[:2] == ("InvalidSignatureException", 403)

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b'"MaxResults": 5', b'"MaxResults": 6')

    admin.meta.events.register("before-send.detective.ListGraphs", tamper)
    assert refusal(lambda: admin.list_graphs(MaxResults=5))[0] == "InvalidSignatureException"
    # a date outside five minutes, signed by botocore's signer with the right secret
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        request = signed_at(base, "member", datetime.now(UTC) + skew, "/invitations/list", b"{}")
        answer = httpx.post(request.url, content=request.body, headers=dict(request.headers))
        assert answer.status_code == 403
        assert answer.headers["x-amzn-errortype"] == "InvalidSignatureException"
    fresh = signed_at(base, "member", datetime.now(UTC), "/invitations/list", b"{}")
    ok = httpx.post(fresh.url, content=fresh.body, headers=dict(fresh.headers))
    assert ok.status_code == 200 and ok.json()["Invitations"][0]["GraphArn"] == arn
    unsigned = httpx.post(f"{base}/graphs/list", content=b"{}")
    assert unsigned.status_code == 401
    assert unsigned.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    # nothing any refusal attempted happened
    assert [m["AccountId"] for m in admin.list_members(GraphArn=arn)["MemberDetails"]] == [MEMBER]
    assert admin.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}
