"""Membership through GraphQL (bearer tokens) on the same server and service layer as the REST
API: state written by one front is read by the other, and refusals are union results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.membership_support import ADMIN, MEMBER, OTHER, client, server, sqlite_uri

MEMBER_FIELDS = "accountId status invitationType administratorId packages { package state }"
REFUSAL = "... on Refusal { __typename code message }"


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    with server(sqlite_uri(tmp_path / "gql.db")) as url:
        yield url


def gql(base: str, who: str, query: str, **variables: Any) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {who}-token-0123456789"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


CREATE_MEMBERS = f"""
mutation($g: ID!, $accounts: [AccountInput!]!) {{
  createMembers(graphArn: $g, accounts: $accounts) {{
    __typename
    ... on MembersCreated {{ members {{ {MEMBER_FIELDS} }} unprocessedAccounts {{ accountId }} }}
    {REFUSAL}
  }}
}}"""
MEMBERS = f"""
query($g: ID!) {{
  members(graphArn: $g) {{
    __typename ... on MemberList {{ members {{ {MEMBER_FIELDS} }} }} {REFUSAL}
  }}
}}"""
ACCEPT = f"""
mutation($g: ID!) {{
  acceptInvitation(graphArn: $g) {{
    __typename ... on MembershipChanged {{ member {{ {MEMBER_FIELDS} }} }} {REFUSAL}
  }}
}}"""


def test_membership_through_graphql(base: str) -> None:
    created = gql(
        base,
        "admin",
        """mutation { createGraph(tags: [{key: "team", value: "ir"}]) {
             __typename ... on GraphResult { graph { arn adminAccountId region } } } }""",
    )["createGraph"]
    graph = created["graph"]
    arn = graph["arn"]
    assert (graph["adminAccountId"], graph["region"]) == (ADMIN, "us-east-1")
    # the same graph through REST: one service layer, one store
    assert client(base, "admin").create_graph()["GraphArn"] == arn

    accounts = [
        {"accountId": MEMBER, "emailAddress": "m@example.com"},
        {"accountId": OTHER, "emailAddress": "o@example.com"},
    ]
    out = gql(base, "admin", CREATE_MEMBERS, g=arn, accounts=accounts)["createMembers"]
    assert out["__typename"] == "MembersCreated"
    assert {m["accountId"]: m["status"] for m in out["members"]} == {
        MEMBER: "INVITED",
        OTHER: "INVITED",
    }
    # a member acting as administrator gets a refusal result, not an error
    denied = gql(base, "member", CREATE_MEMBERS, g=arn, accounts=accounts)["createMembers"]
    assert (denied["__typename"], denied["code"]) == ("AccessDeniedError", "AccessDeniedException")

    invitations = gql(
        base,
        "member",
        "{ invitations { ... on InvitationList { invitations { graphArn status } } } }",
    )["invitations"]["invitations"]
    assert invitations == [{"graphArn": arn, "status": "INVITED"}]
    accepted = gql(base, "member", ACCEPT, g=arn)["acceptInvitation"]
    assert accepted["member"]["status"] == "ENABLED"
    assert {"package": "DETECTIVE_CORE", "state": "STARTED"} in accepted["member"]["packages"]
    again = gql(base, "member", ACCEPT, g=arn)["acceptInvitation"]
    assert (again["__typename"], again["code"]) == ("ConflictError", "ConflictException")
    rejected = gql(
        base,
        "other",
        f"mutation($g: ID!) {{ rejectInvitation(graphArn: $g) {{ __typename {REFUSAL} }} }}",
        g=arn,
    )["rejectInvitation"]
    assert rejected["__typename"] == "MembershipRemoved"

    members = gql(base, "admin", MEMBERS, g=arn)["members"]["members"]
    assert [(m["accountId"], m["status"]) for m in members] == [(MEMBER, "ENABLED")]
    # what GraphQL changed, REST reports
    (detail,) = client(base, "admin").list_members(GraphArn=arn)["MemberDetails"]
    assert (detail["AccountId"], detail["Status"]) == (MEMBER, "ENABLED")
    stranger = gql(base, "stranger", MEMBERS, g=arn)["members"]
    assert stranger["__typename"] == "AccessDeniedError"
    bad = gql(base, "admin", MEMBERS, g="arn:nope")["members"]
    assert (bad["__typename"], bad["code"]) == ("InvalidInputError", "ValidationException")

    left = gql(
        base,
        "member",
        f"mutation($g: ID!) {{ disassociateMembership(graphArn: $g) {{ __typename {REFUSAL} }} }}",
        g=arn,
    )["disassociateMembership"]
    assert left["__typename"] == "MembershipRemoved"
    assert gql(base, "admin", MEMBERS, g=arn)["members"]["members"] == []
    deleted = gql(
        base,
        "admin",
        f"mutation($g: ID!) {{ deleteGraph(graphArn: $g) {{ __typename {REFUSAL} }} }}",
        g=arn,
    )["deleteGraph"]
    assert deleted["__typename"] == "GraphDeleted"
    gone = gql(
        base,
        "admin",
        f"mutation($g: ID!) {{ deleteGraph(graphArn: $g) {{ __typename {REFUSAL} }} }}",
        g=arn,
    )["deleteGraph"]
    assert (gone["__typename"], gone["code"]) == ("NotFoundError", "ResourceNotFoundException")
