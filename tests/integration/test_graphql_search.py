"""Search, lookup, findings and scopes over GraphQL through uvicorn, on every store backend.

The data is test_graphql_profiles' scenario: the same users, roles, findings and scope day.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from graph.store import GraphStore
from tests.conftest import GRAPH
from tests.integration.test_graphql_profiles import (
    BOB1,
    BOB2,
    IP2,
    PROFILE,
    S1,
    S2,
    U2,
    A,
    R,
    U,
    errors,
    gql,
    profile,
    served,
)


@pytest.fixture
def api(store: GraphStore) -> Iterator[httpx.Client]:
    yield from served(store)


def test_user_found_by_name_and_arn(api: httpx.Client) -> None:
    q = "query($g: ID!, $id: ID!) { entity(graphArn: $g, type: AWS_USER, id: $id) { id } }"
    for identifier in (U.key, "alice", f"arn:aws:iam::{A}:user/alice"):
        assert gql(api, q, g=GRAPH, id=identifier)["entity"] == {"id": U.key}
    assert gql(api, q, g=GRAPH, id="Alice")["entity"] is None  # case-sensitive
    assert gql(api, q, g=GRAPH, id="ali")["entity"] is None  # a prefix is a search, not an id
    (error,) = errors(api, q, g=GRAPH, id="bob")
    assert "give the id or the ARN" in error["message"]
    assert error["extensions"]["code"] == "ValidationException"
    role = 'query($g: ID!) { entity(graphArn: $g, type: AWS_ROLE, id: "deploy") { id } }'
    assert gql(api, role, g=GRAPH)["entity"] == {"id": R.key}


def test_findings_and_groups(api: httpx.Client) -> None:
    q = """query($g: ID!, $scope: ScopeInput, $archived: Boolean!) {
      entity(graphArn: $g, type: AWS_USER, id: "alice") {
        involvedFindings(scope: $scope, includeArchived: $archived) { id findingType archived }
        findingGroups(scope: $scope) {
          id title severity tactics status
          findings { id involvedEntities { role entity { id type } } }
        }
      }
    }"""
    e = gql(api, q, g=GRAPH, archived=False)["entity"]  # default scope: the day D
    assert e["involvedFindings"] == [
        {"id": "f1", "findingType": "Recon:IAMUser/MaliciousIPCaller", "archived": False}
    ]
    (group,) = e["findingGroups"]
    assert (group["id"], group["severity"], group["tactics"]) == ("g1", 8.0, ["Discovery"])
    (finding,) = group["findings"]
    involved = {
        (i["role"], i["entity"]["id"], i["entity"]["type"]) for i in finding["involvedEntities"]
    }
    assert involved == {("actor", U.key, "AWS_USER"), ("remote", IP2.key, "IP_ADDRESS")}
    with_archived = gql(api, q, g=GRAPH, archived=True)["entity"]["involvedFindings"]
    assert [f["id"] for f in with_archived] == ["f1", "f2"]
    wide = {"start": "2023-09-01T00:00:00Z", "end": "2023-11-15T00:00:00Z"}
    older = gql(api, q, g=GRAPH, archived=False, scope=wide)["entity"]["involvedFindings"]
    assert [f["id"] for f in older] == ["f1", "f3"]
    top = """query($g: ID!) { findingGroups(graphArn: $g) { id }
                            findingGroup(graphArn: $g, id: "g1") { id status firstObserved } }"""
    data = gql(api, top, g=GRAPH)
    assert data["findingGroups"] == [{"id": "g1"}]
    assert data["findingGroup"] == {"id": "g1", "status": "ACTIVE",
                                    "firstObserved": "2023-11-14T01:00:00+00:00"}  # fmt: skip


SEARCH = """query($g: ID!, $type: EntityType!, $q: String!, $first: Int!, $after: String) {
  search(graphArn: $g, type: $type, query: $q, first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


def _keys(client: httpx.Client, type_: str, query: str, first: int = 50) -> list[str]:
    page = gql(client, SEARCH, g=GRAPH, type=type_, q=query, first=first)["search"]
    return [e["node"]["id"] for e in page["edges"]]


def test_search_like_detective(api: httpx.Client) -> None:
    assert _keys(api, "AWS_USER", "AIDAALICE") == [U.key, U2.key]  # prefix of the id
    assert _keys(api, "AWS_USER", "alice") == [U.key, U2.key]  # prefix of the name
    assert _keys(api, "AWS_USER", "Alice") == []  # case-sensitive
    assert _keys(api, "AWS_USER", f"arn:aws:iam::{A}:user/alice2") == [U2.key]
    assert _keys(api, "AWS_USER", "*:user/bob") == [BOB1.key, BOB2.key]  # wildcard
    assert _keys(api, "AWS_ROLE_SESSION", "deploy") == [S1.key, S2.key]  # by role name
    assert _keys(api, "AWS_ROLE_SESSION", "AROADEPLOY:*") == [S1.key, S2.key]
    assert _keys(api, "FINDING", "*") == ["f1", "f3"]  # archived findings hidden
    assert _keys(api, "S3_BUCKET", "lo") == ["logs"]


def test_search_pages_with_cursors(api: httpx.Client) -> None:
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = gql(api, SEARCH, g=GRAPH, type="AWS_USER", q="*", first=2, after=after)["search"]
        seen.extend(e["node"]["id"] for e in page["edges"])
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted([U.key, U2.key, BOB1.key, BOB2.key])
    (bad,) = errors(api, SEARCH, g=GRAPH, type="AWS_USER", q="*", first=2, after="nonsense")
    assert bad["extensions"]["code"] == "ValidationException" and "cursor" in bad["message"]
    (big,) = errors(api, SEARCH, g=GRAPH, type="AWS_USER", q="*", first=201)
    assert "between 1 and 200" in big["message"]


def test_scope_must_be_hours_within_a_year(api: httpx.Client) -> None:
    for scope, text in (
        ({"start": "2023-11-14T00:30:00Z", "end": "2023-11-15T00:00:00Z"}, "on the hour"),
        ({"start": "2023-11-15T00:00:00Z", "end": "2023-11-14T00:00:00Z"}, "after its start"),
        ({"start": "2021-11-14T00:00:00Z", "end": "2023-11-14T00:00:00Z"}, "one year"),
    ):
        (error,) = errors(api, PROFILE, g=GRAPH, type="AWS_USER", id=U.key, scope=scope)
        assert text in error["message"] and error["extensions"]["code"] == "ValidationException"
    # a time with an offset is read in UTC
    shifted = {"start": "2023-11-14T02:00:00+02:00", "end": "2023-11-15T02:00:00+02:00"}
    assert profile(api, "AWS_USER", U.key, shifted)["apiCallVolume"]["totalSuccess"] == 11


def test_default_scope_is_the_last_24_hours(api: httpx.Client) -> None:
    q = """query($g: ID!) { entity(graphArn: $g, type: AWS_USER, id: "alice") {
      ... on AwsUser { apiCallVolume { totalSuccess scope { start end baselineStart } } } } }"""
    v = gql(api, q, g=GRAPH)["entity"]["apiCallVolume"]
    assert v["scope"] == {"start": "2023-11-14T00:00:00+00:00", "end": "2023-11-15T00:00:00+00:00",
                          "baselineStart": "2023-09-30T00:00:00+00:00"}  # fmt: skip
    assert v["totalSuccess"] == 11


def test_rows_keep_aliases_typenames_and_directives(api: httpx.Client) -> None:
    # plain rows skip graphql-core's per-field machinery (api/graphql/execution.py)
    q = """query($g: ID!, $more: Boolean!) { entity(graphArn: $g, type: AWS_USER, id: "alice") {
      ... on AwsUser { apiCallVolume { buckets { __typename at: start ok: success
                                                 failed @include(if: $more) expected } } } } }"""
    (bucket, *_) = gql(api, q, g=GRAPH, more=False)["entity"]["apiCallVolume"]["buckets"]
    # the baseline (baselines.volume) of a user who called twice in 45 days: nothing expected
    assert bucket == {"__typename": "ApiCallBucket", "at": "2023-11-14T00:00:00+00:00", "ok": 0,
                      "expected": 0.0}  # fmt: skip
    buckets = gql(api, q, g=GRAPH, more=True)["entity"]["apiCallVolume"]["buckets"]
    assert buckets[2]["failed"] == 1 and buckets[2]["ok"] == 11
