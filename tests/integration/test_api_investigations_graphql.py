"""Investigations through GraphQL, and the JSON report download, against uvicorn with httpx.

The same service layer as the REST API (tests/integration/test_investigation_rest.py): a real
SQLite store holding hand-built activity (tests.unit.test_investigation.build), the baselines
engine, callers authenticated by bearer token or SigV4 (tests.integration.membership_support).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from baselines.investigation_engine import investigation_report
from graph.sqlite import SqliteStore
from tests.integration.membership_support import key_of, server, sqlite_uri
from tests.unit.test_investigation import ROLE_ARN, SCOPE, USER_ARN, build

START = datetime.fromtimestamp(SCOPE, UTC)
END = START + timedelta(days=1)
INVESTIGATION = """
  ... on InvestigationPayload {
    investigation { investigationId graphArn entityArn entityType status severity state
                    createdTime scopeStartTime scopeEndTime reportPath }
  }
  ... on Refusal { __typename code message }
"""
START_MUTATION = (
    "mutation($g: ID!, $arn: String!, $s: DateTime!, $e: DateTime!) {"
    " startInvestigation(graphArn: $g, entityArn: $arn, scopeStartTime: $s, scopeEndTime: $e) {"
    + INVESTIGATION
    + "} }"
)
GET_QUERY = (
    "query($g: ID!, $id: ID!) { investigation(graphArn: $g, investigationId: $id) {"
    + INVESTIGATION
    + "} }"
)
LIST_QUERY = """
query($g: ID!, $filter: InvestigationFilter, $sort: InvestigationSort) {
  investigations(graphArn: $g, filter: $filter, sort: $sort) {
    ... on InvestigationList { investigations { investigationId severity state } nextToken }
    ... on Refusal { __typename code }
  }
}
"""
INDICATORS_QUERY = """
query($g: ID!, $id: ID!, $type: IndicatorType, $max: Int, $token: String) {
  indicators(graphArn: $g, investigationId: $id, indicatorType: $type, maxResults: $max,
             nextToken: $token) {
    ... on IndicatorList { investigationId indicators { indicatorType indicatorDetail }
                           nextToken }
    ... on Refusal { __typename code }
  }
}
"""
UPDATE_MUTATION = (
    "mutation($g: ID!, $id: ID!, $state: InvestigationState!) {"
    " updateInvestigationState(graphArn: $g, investigationId: $id, state: $state) {"
    + INVESTIGATION
    + "} }"
)


@pytest.fixture(autouse=True)
def shipped_threat_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUMSHOE_THREAT_LIST", raising=False)


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}-token-0123456789"}


def gql(client: httpx.Client, query: str, who: str = "admin", **variables: Any) -> Any:
    r = client.post("/graphql", json={"query": query, "variables": variables}, headers=bearer(who))
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, str, Path]]:
    """The app on a fresh SQLite store holding the investigation scenario in the admin's
    graph; yields (client, graph ARN, database)."""
    db = tmp_path / "inv.db"
    with server(sqlite_uri(db)) as base, httpx.Client(base_url=base, timeout=60) as client:
        created = gql(client, "mutation { createGraph { ... on GraphResult { graph { arn } } } }")
        arn = created["createGraph"]["graph"]["arn"]
        store = SqliteStore(db)
        try:
            build(store, arn)
        finally:
            store.close()
        yield client, arn, db


def start(client: httpx.Client, arn: str, entity: str, who: str = "admin") -> dict[str, Any]:
    got = gql(client, START_MUTATION, who, g=arn, arn=entity, s=START.isoformat(),
              e=END.isoformat())["startInvestigation"]  # fmt: skip
    return got  # type: ignore[no-any-return]


def test_start_get_list_indicators_and_archive(served: tuple[httpx.Client, str, Path]) -> None:
    client, arn, db = served
    inv = start(client, arn, ROLE_ARN)["investigation"]
    inv_id = inv["investigationId"]
    assert len(inv_id) == 21 and inv_id.isdigit()
    assert (inv["status"], inv["state"], inv["severity"], inv["entityType"]) == (
        "SUCCESSFUL", "ACTIVE", "CRITICAL", "IAM_ROLE",
    )  # fmt: skip
    assert inv["scopeStartTime"] == START.isoformat() and inv["graphArn"] == arn

    got = gql(client, GET_QUERY, g=arn, id=inv_id)["investigation"]["investigation"]
    assert got == inv

    found = gql(client, INDICATORS_QUERY, g=arn, id=inv_id)["indicators"]
    types = {i["indicatorType"] for i in found["indicators"]}
    assert types == {
        "TTP_OBSERVED", "IMPOSSIBLE_TRAVEL", "FLAGGED_IP_ADDRESS", "NEW_GEOLOCATION",
        "NEW_ASO", "NEW_USER_AGENT", "RELATED_FINDING", "RELATED_FINDING_GROUP",
    }  # fmt: skip
    trips = gql(client, INDICATORS_QUERY, g=arn, id=inv_id, type="IMPOSSIBLE_TRAVEL")
    detail = trips["indicators"]["indicators"][0]["indicatorDetail"]
    assert detail["ImpossibleTravelDetail"]["HourlyTimeDelta"] == 1
    # pages of 3 walk every indicator once
    seen: list[Any] = []
    token = None
    while True:
        page = gql(client, INDICATORS_QUERY, g=arn, id=inv_id, max=3, token=token)["indicators"]
        seen += page["indicators"]
        token = page["nextToken"]
        if not token:
            break
    assert seen == found["indicators"] and len(seen) > 3

    quiet = start(client, arn, USER_ARN)["investigation"]["investigationId"]
    listed = gql(client, LIST_QUERY, g=arn, sort={"field": "SEVERITY", "order": "DESC"})
    assert [(i["investigationId"], i["severity"]) for i in listed["investigations"][
        "investigations"]] == [(inv_id, "CRITICAL"), (quiet, "INFORMATIONAL")]  # fmt: skip

    archived = gql(client, UPDATE_MUTATION, g=arn, id=inv_id, state="ARCHIVED")
    assert archived["updateInvestigationState"]["investigation"]["state"] == "ARCHIVED"
    only = gql(client, LIST_QUERY, g=arn, filter={"state": "ARCHIVED"})["investigations"]
    assert [i["investigationId"] for i in only["investigations"]] == [inv_id]
    critical = gql(client, LIST_QUERY, g=arn, filter={"severity": "CRITICAL",
                                                       "entityArn": ROLE_ARN})  # fmt: skip
    assert len(critical["investigations"]["investigations"]) == 1

    # the same records the REST API and the report read
    store = SqliteStore(db)
    try:
        report = investigation_report(store=store, graph=arn, investigation_id=inv_id)
    finally:
        store.close()
    assert report["State"] == "ARCHIVED"
    assert report["Indicators"] == [
        {"IndicatorType": i["indicatorType"], "IndicatorDetail": i["indicatorDetail"]}
        for i in found["indicators"]
    ]


def test_refusals_are_union_results(served: tuple[httpx.Client, str, Path]) -> None:
    client, arn, _ = served
    unknown = start(client, arn, "arn:aws:iam::111122223333:role/unknown")
    assert (unknown["__typename"], unknown["code"]) == ("InvalidInputError", "ValidationException")
    bad = start(client, arn, "arn:aws:s3:::not-a-principal")
    assert bad["__typename"] == "InvalidInputError"
    missing = gql(client, GET_QUERY, g=arn, id="0" * 21)["investigation"]
    assert (missing["__typename"], missing["code"]) == ("NotFoundError",
                                                        "ResourceNotFoundException")  # fmt: skip
    # another account never starts or reads the administrator's investigations
    other = start(client, arn, ROLE_ARN, who="other")
    assert other["__typename"] == "AccessDeniedError"
    listed = gql(client, LIST_QUERY, "other", g=arn)["investigations"]
    assert listed["__typename"] == "AccessDeniedError"


def test_report_downloads_with_the_api_credentials(
    served: tuple[httpx.Client, str, Path],
) -> None:
    client, arn, db = served
    inv = start(client, arn, ROLE_ARN)["investigation"]
    inv_id, path = inv["investigationId"], inv["reportPath"]
    assert path.startswith("/investigations/report?")

    r = client.get(path, headers=bearer("admin"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="investigation-{inv_id}.json"'
    )
    store = SqliteStore(db)
    try:
        expected = investigation_report(store=store, graph=arn, investigation_id=inv_id)
    finally:
        store.close()
    assert r.json() == json.loads(json.dumps(expected))
    assert (
        r.json()["Severity"] == "CRITICAL" and r.json()["IndicatorCounts"]["RELATED_FINDING"] == 2
    )

    # SigV4 for service `detective`, as boto3 signs, works too
    key, secret = key_of("admin")
    url = str(client.base_url).rstrip("/") + path
    signed = AWSRequest(method="GET", url=url)
    SigV4Auth(BotoCredentials(key, secret), "detective", "us-east-1").add_auth(signed)
    r = httpx.get(url, headers=dict(signed.headers.items()), timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["InvestigationId"] == inv_id

    # no credentials, wrong ones, another account, an unknown investigation
    assert client.get(path).status_code in (401, 403)
    bad = client.get(path, headers={"Authorization": "Bearer not-a-token-0123456789"})
    assert bad.status_code in (401, 403)
    other = client.get(path, headers=bearer("other"))
    assert other.status_code == 403
    assert other.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    unknown = client.get(
        "/investigations/report",
        params={"GraphArn": arn, "InvestigationId": "0" * 21},
        headers=bearer("admin"),
    )
    assert unknown.status_code == 404
    assert unknown.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    missing = client.get("/investigations/report", headers=bearer("admin"))
    assert missing.status_code == 400
