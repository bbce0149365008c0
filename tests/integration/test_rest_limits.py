"""Limits and the organization through boto3: member quota (402), the daily volume check behind
ACCEPTED_BUT_DISABLED and StartMonitoringMember, request rate (429), the organization's
administrator and auto-enable, and the investigation operations' validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from graph.open import open_store
from tests.integration.helpers import delivery, event, load, write
from tests.integration.membership_support import (
    ADMIN,
    MEMBER,
    ORG_ADMIN,
    ORG_ENV,
    ORG_MEMBER,
    OTHER,
    client,
    refusal,
    server,
    sqlite_uri,
)


def member_of(admin: Any, arn: str, account: str) -> dict[str, Any]:
    (detail,) = admin.get_members(GraphArn=arn, AccountIds=[account])["MemberDetails"]
    return detail


def test_member_quota_is_402(tmp_path: Path) -> None:
    with server(sqlite_uri(tmp_path / "q.db"), {"GUMSHOE_MAX_MEMBERS": "2"}) as base:
        admin = client(base, "admin")
        arn = admin.create_graph()["GraphArn"]
        accounts = [{"AccountId": f"10000000000{i}", "EmailAddress": "a@b.io"} for i in range(3)]
        code, status, r = refusal(lambda: admin.create_members(GraphArn=arn, Accounts=accounts))
        assert (code, status) == ("ServiceQuotaExceededException", 402)
        assert r["Resources"]
        assert admin.list_members(GraphArn=arn)["MemberDetails"] == []  # all or nothing
        admin.create_members(GraphArn=arn, Accounts=accounts[:2])
        code, _, _ = refusal(lambda: admin.create_members(GraphArn=arn, Accounts=accounts[2:]))
        assert code == "ServiceQuotaExceededException"
        # failed verifications do not count against the quota
        bad = [{"AccountId": "100000000009", "EmailAddress": "nope"}]
        created = admin.create_members(GraphArn=arn, Accounts=bad)["Members"]
        assert created[0]["Status"] == "VERIFICATION_FAILED"


def test_volume_check_disables_and_start_monitoring_enables(tmp_path: Path) -> None:
    db = sqlite_uri(tmp_path / "v.db")
    with server(db, {"GUMSHOE_GRAPH_VOLUME_CAP": "100"}) as base:
        admin, member = client(base, "admin"), client(base, "member")
        arn = admin.create_graph()["GraphArn"]
        admin.create_members(
            GraphArn=arn, Accounts=[{"AccountId": MEMBER, "EmailAddress": "m@example.com"}]
        )
    # the invited member's records are skipped, but their volume is measured
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")
    records = [event("GetObject", now, account=MEMBER, recipientAccountId=MEMBER)] * 5
    store = open_store(db)
    report, _ = load(store, [write(tmp_path / "m.json", delivery(records))])
    store.close()
    assert report.skipped_accounts == {MEMBER: 5}
    with server(db, {"GUMSHOE_GRAPH_VOLUME_CAP": "100"}) as base:
        admin, member = client(base, "admin"), client(base, "member")
        member.accept_invitation(GraphArn=arn)
        detail = member_of(admin, arn, MEMBER)
        assert (detail["Status"], detail["DisabledReason"]) == (
            "ACCEPTED_BUT_DISABLED",
            "VOLUME_TOO_HIGH",
        )
        assert detail["DatasourcePackageIngestStates"]["DETECTIVE_CORE"] == "DISABLED"
        admin.start_monitoring_member(GraphArn=arn, AccountId=MEMBER)  # still too much
        assert member_of(admin, arn, MEMBER)["Status"] == "ACCEPTED_BUT_DISABLED"
    with server(db, {"GUMSHOE_GRAPH_VOLUME_CAP": str(10**9)}) as base:
        admin = client(base, "admin")
        admin.start_monitoring_member(GraphArn=arn, AccountId=MEMBER)
        detail = member_of(admin, arn, MEMBER)
        assert detail["Status"] == "ENABLED" and "DisabledReason" not in detail
        assert refusal(lambda: admin.start_monitoring_member(GraphArn=arn, AccountId=MEMBER))[
            :2
        ] == ("ConflictException", 409)
    # now enabled, its records are ingested and reported as volume usage
    store = open_store(db)
    later = [event("ListBuckets", now, account=MEMBER, recipientAccountId=MEMBER)] * 3
    report, _ = load(store, [write(tmp_path / "m2.json", delivery(later))])
    store.close()
    assert report.graph_records == {arn: 3}
    with server(db) as base:
        detail = member_of(client(base, "admin"), arn, MEMBER)
        usage = detail["VolumeUsageByDatasourcePackage"]["DETECTIVE_CORE"]
        assert usage["VolumeUsageInBytes"] > 0
        assert detail["VolumeUsageInBytes"] == usage["VolumeUsageInBytes"]


def test_unknown_volume_when_a_measurement_is_required(tmp_path: Path) -> None:
    with server(sqlite_uri(tmp_path / "u.db"), {"GUMSHOE_REQUIRE_KNOWN_VOLUME": "1"}) as base:
        admin, other = client(base, "admin"), client(base, "other")
        arn = admin.create_graph()["GraphArn"]
        admin.create_members(
            GraphArn=arn, Accounts=[{"AccountId": OTHER, "EmailAddress": "o@x.io"}]
        )
        other.accept_invitation(GraphArn=arn)
        assert member_of(admin, arn, OTHER)["DisabledReason"] == "VOLUME_UNKNOWN"


def test_request_rate_is_429(tmp_path: Path) -> None:
    with server(sqlite_uri(tmp_path / "r.db"), {"GUMSHOE_RATE_LIMIT": "3"}) as base:
        admin = client(base, "admin")
        codes = []
        for _ in range(8):
            try:
                admin.list_graphs()
                codes.append(200)
            except Exception as e:  # botocore's ClientError
                codes.append(getattr(e, "response", {})["ResponseMetadata"]["HTTPStatusCode"])
        assert codes[:3] == [200, 200, 200] and 429 in codes
        assert refusal(admin.list_graphs)[0] == "TooManyRequestsException"
        client(base, "member").list_graphs()  # the limit is per account


def test_organization_administrator_and_auto_enable(tmp_path: Path) -> None:
    with server(sqlite_uri(tmp_path / "o.db"), ORG_ENV) as base:
        mgmt, org_admin = client(base, "management"), client(base, "orgadmin")
        outsider, org_member = client(base, "admin"), client(base, "orgmember")
        assert refusal(lambda: outsider.enable_organization_admin_account(AccountId=ORG_ADMIN))[
            0
        ] == ("AccessDeniedException")
        code, _, _ = refusal(lambda: mgmt.enable_organization_admin_account(AccountId=ADMIN))
        assert code == "ValidationException"  # not an organization account
        mgmt.enable_organization_admin_account(AccountId=ORG_ADMIN)
        (delegated,) = mgmt.list_organization_admin_accounts()["Administrators"]
        arn = delegated["GraphArn"]
        assert delegated["AccountId"] == ORG_ADMIN and arn.split(":")[4] == ORG_ADMIN
        assert org_admin.list_graphs()["GraphList"][0]["Arn"] == arn
        assert org_admin.describe_organization_configuration(GraphArn=arn)["AutoEnable"] is False
        # organization accounts join without an invitation; others are invited
        created = org_admin.create_members(
            GraphArn=arn,
            Accounts=[
                {"AccountId": ORG_MEMBER, "EmailAddress": "om@example.com"},
                {"AccountId": MEMBER, "EmailAddress": "m@example.com"},
            ],
        )["Members"]
        kinds = {m["AccountId"]: (m["Status"], m["InvitationType"]) for m in created}
        assert kinds == {
            ORG_MEMBER: ("ENABLED", "ORGANIZATION"),
            MEMBER: ("INVITED", "INVITATION"),
        }
        assert org_member.list_invitations()["Invitations"] == []
        assert refusal(lambda: org_member.disassociate_membership(GraphArn=arn))[0] == (
            "ConflictException"
        )
        # auto-enable brings in the organization's remaining account
        org_admin.update_organization_configuration(GraphArn=arn, AutoEnable=True)
        assert org_admin.describe_organization_configuration(GraphArn=arn)["AutoEnable"] is True
        listed = org_admin.list_members(GraphArn=arn)["MemberDetails"]
        assert {m["AccountId"]: m["Status"] for m in listed} == {
            ORG_MEMBER: "ENABLED",
            MEMBER: "INVITED",
            OTHER: "ENABLED",
        }
        # a non-organization graph has no organization configuration
        own = outsider.create_graph()["GraphArn"]
        code, _, _ = refusal(lambda: outsider.describe_organization_configuration(GraphArn=own))
        assert code == "AccessDeniedException"
        mgmt.disable_organization_admin_account()
        assert mgmt.list_organization_admin_accounts()["Administrators"] == []
        assert org_admin.list_graphs()["GraphList"] == []  # the organization graph is deleted


def test_investigations_validate_and_list_what_exists(tmp_path: Path) -> None:
    with server(sqlite_uri(tmp_path / "i.db")) as base:
        admin, member = client(base, "admin"), client(base, "member")
        arn = admin.create_graph()["GraphArn"]
        assert admin.list_investigations(GraphArn=arn)["InvestigationDetails"] == []
        code, status, _ = refusal(
            lambda: admin.get_investigation(GraphArn=arn, InvestigationId="0" * 21)
        )
        assert (code, status) == ("ResourceNotFoundException", 404)
        assert refusal(lambda: admin.list_indicators(GraphArn=arn, InvestigationId="1" * 21))[
            0
        ] == ("ResourceNotFoundException")
        assert refusal(
            lambda: admin.update_investigation_state(
                GraphArn=arn, InvestigationId="1" * 21, State="ARCHIVED"
            )
        )[0] == ("ResourceNotFoundException")
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=1)
        role = f"arn:aws:iam::{ADMIN}:role/deployer"
        for entity, s, e in (
            ("arn:aws:s3:::bucket", start, end),  # not an IAM user or role
            (role, end, start),  # ends before it starts
            (role, start - timedelta(days=400), end),  # longer than a year
        ):
            code, _, r = refusal(
                lambda entity=entity, s=s, e=e: admin.start_investigation(
                    GraphArn=arn, EntityArn=entity, ScopeStartTime=s, ScopeEndTime=e
                )
            )
            assert (code, r["ErrorCode"]) == ("ValidationException", "INVALID_REQUEST_BODY")
        code, _, r = refusal(
            lambda: admin.list_investigations(
                GraphArn=arn, FilterCriteria={"Severity": {"Value": "SEVERE"}}
            )
        )
        assert code == "ValidationException" and "Severity" in r["Error"]["Message"]
        assert refusal(lambda: member.list_investigations(GraphArn=arn))[0] == (
            "AccessDeniedException"
        )
        code, _, _ = refusal(
            lambda: admin.start_investigation(
                GraphArn=arn, EntityArn=role, ScopeStartTime=start, ScopeEndTime=end
            )
        )
        assert code == "ValidationException"  # valid input, but no investigation engine yet
