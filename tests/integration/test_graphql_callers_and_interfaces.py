"""Profile details over GraphQL on every store backend: who an account's calls are listed under,
and which hours of an interface's traffic an EC2 instance's flow volume counts.

- An account's `byCaller` lists its users, roles and federated users, as Detective's account
  profile identifies "the users or roles that made the calls". Calls of AWS services
  (`AwsService` principals such as ec2.amazonaws.com, shared by every account) are in the
  account's totals and not listed as callers.
- An instance's `vpcFlowVolume` counts each interface only in the hours it was attached to the
  instance: from the first HAS_INTERFACE observation until the interface is seen on another
  instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import Authenticator, parse_credentials
from graph.batch import DeltaBuffer
from graph.model import (
    ACCOUNT,
    API,
    BELONGS_TO,
    CALLED,
    ENI,
    FLOW,
    HAS_INTERFACE,
    INSTANCE,
    IP,
    SERVICE,
    USED_IP,
    USER,
    VertexRef,
)
from graph.open import open_store
from graph.store import GraphStore
from tests.conftest import GRAPH
from tests.integration.test_graphql_profiles import ADMIN, CREDENTIALS, SCOPE, A, D, gql
from tests.integration.uvicorn_thread import serving

HOUR, DAY = 3600, 86_400
ACCT = VertexRef(ACCOUNT, A)
CAROL = VertexRef(USER, "AIDACAROL")
EC2 = VertexRef(SERVICE, "ec2.amazonaws.com")
DESCRIBE = VertexRef(API, "ec2.amazonaws.com:DescribeInstances")
ADDR = VertexRef(IP, "198.51.100.20")
I1, I2 = VertexRef(INSTANCE, "i-0one"), VertexRef(INSTANCE, "i-0two")
# eni-a: on i-0one all along; eni-b: attached to i-0one at D+10h; eni-c: on i-0one since D-10d,
# then seen on i-0two from D+6h
ENI_A, ENI_B, ENI_C = (VertexRef(ENI, f"eni-{x}") for x in "abc")
REMOTE = VertexRef(IP, "203.0.113.77")
Q = "6/443/40000/egress/ACCEPT"


def scenario(store: GraphStore) -> None:
    buf = DeltaBuffer()
    buf.vertex(CAROL, D - 60 * DAY, None, {"name": "carol", "account": A})
    # carol's calls, written for her and her account (the loader's rollup)
    for ref in (CAROL, ACCT):
        buf.edge(CALLED, ref, DESCRIBE, D + HOUR, (3, 1), qualifier=ADDR.key)
        buf.edge(USED_IP, ref, ADDR, D + HOUR, (3, 1))
    buf.edge(BELONGS_TO, CAROL, ACCT, D + HOUR, (4,))
    # an AWS service acting in the account: the service's and the account's edges only
    for ref in (EC2, ACCT):
        buf.edge(CALLED, ref, DESCRIBE, D + 2 * HOUR, (5, 0), qualifier=EC2.key)
    for inst in (I1, I2):
        buf.vertex(inst, D - 30 * DAY, None, {"account": A})
    buf.edge(HAS_INTERFACE, I1, ENI_A, D - 20 * DAY, (1,))
    buf.edge(HAS_INTERFACE, I1, ENI_B, D + 10 * HOUR + 300, (1,))  # AttachNetworkInterface
    buf.edge(HAS_INTERFACE, I1, ENI_C, D - 10 * DAY, (1,))
    buf.edge(HAS_INTERFACE, I2, ENI_C, D + 6 * HOUR + 120, (1,))
    flows = {
        (ENI_A, 1): 1,
        (ENI_B, 4): 10,  # before it was attached to i-0one: not its traffic
        (ENI_B, 12): 100,
        (ENI_C, 2): 1000,  # still on i-0one
        (ENI_C, 8): 10_000,  # on i-0two by then
    }
    for (nic, hour), n in flows.items():
        buf.edge(FLOW, nic, REMOTE, D + hour * HOUR + 60, (0, n, 0, 1), qualifier=Q)
    store.write(buf.take(GRAPH, []))


@pytest.fixture
def api(store: GraphStore) -> Iterator[httpx.Client]:
    scenario(store)
    app = create_app(
        lambda: open_store(store.uri),
        authenticator=Authenticator(parse_credentials(CREDENTIALS)),
        clock=lambda: D + DAY - 60,
    )
    with serving(app) as base, httpx.Client(base_url=base, headers=ADMIN, timeout=60) as client:
        yield client


def test_account_callers_are_its_users_and_roles_not_aws_services(api: httpx.Client) -> None:
    q = """query($g: ID!, $scope: ScopeInput) {
      entity(graphArn: $g, type: AWS_ACCOUNT, id: "111122223333") {
        ... on AwsAccount { apiCallVolume(scope: $scope) {
          totalSuccess totalFailed byCaller { callerId callerType success failed }
          bySourceIp { ipAddress success } } }
      }
    }"""
    v = gql(api, q, g=GRAPH, scope=SCOPE)["entity"]["apiCallVolume"]
    # the service's calls are the account's activity ...
    assert (v["totalSuccess"], v["totalFailed"]) == (8, 1)
    assert {r["ipAddress"]: r["success"] for r in v["bySourceIp"]} == {EC2.key: 5, ADDR.key: 3}
    # ... but not a caller of it: callers are the account's users, roles and federated users
    assert v["byCaller"] == [
        {"callerId": CAROL.key, "callerType": "AWS_USER", "success": 3, "failed": 1}
    ]
    # the service's own profile has them
    s = gql(
        api,
        """query($g: ID!, $scope: ScopeInput) { entity(graphArn: $g, type: AWS_SERVICE,
             id: "ec2.amazonaws.com") { ... on AwsService {
               apiCallVolume(scope: $scope) { totalSuccess } } } }""",
        g=GRAPH,
        scope=SCOPE,
    )["entity"]
    assert s["apiCallVolume"]["totalSuccess"] == 5


FLOWS = """query($g: ID!, $id: ID!, $scope: ScopeInput) {
  entity(graphArn: $g, type: EC2_INSTANCE, id: $id) {
    ... on Ec2Instance { vpcFlowVolume(scope: $scope) {
      totalBytesOut buckets { start bytesOut } rows { remoteIpAddress bytesOut packetsOut } } }
  }
}"""


def _flows(api: httpx.Client, instance: VertexRef, scope: dict[str, str]) -> dict[str, Any]:
    return gql(api, FLOWS, g=GRAPH, id=instance.key, scope=scope)["entity"]["vpcFlowVolume"]  # type: ignore[no-any-return]


def _hours(f: dict[str, Any]) -> dict[int, int]:
    return {i: b["bytesOut"] for i, b in enumerate(f["buckets"]) if b["bytesOut"]}


def test_instance_counts_interfaces_only_while_attached(api: httpx.Client) -> None:
    one = _flows(api, I1, SCOPE)
    # eni-a at 1h, eni-c at 2h (before it moved), eni-b at 12h (after it was attached)
    assert _hours(one) == {1: 1, 2: 1000, 12: 100}
    assert one["totalBytesOut"] == 1101
    assert one["rows"] == [{"remoteIpAddress": REMOTE.key, "bytesOut": 1101, "packetsOut": 3}]
    two = _flows(api, I2, SCOPE)
    assert _hours(two) == {8: 10_000}
    assert two["rows"] == [{"remoteIpAddress": REMOTE.key, "bytesOut": 10_000, "packetsOut": 1}]


def test_instance_flow_rows_follow_each_interface_window(api: httpx.Client) -> None:
    # a scope from 03:00 to 09:00: eni-b not attached yet, eni-c moved at 06:00
    scope = {"start": "2023-11-14T03:00:00Z", "end": "2023-11-14T09:00:00Z"}
    one = _flows(api, I1, scope)
    assert one["totalBytesOut"] == 0 and one["rows"] == []
    two = _flows(api, I2, scope)
    assert two["totalBytesOut"] == 10_000
    assert two["rows"] == [{"remoteIpAddress": REMOTE.key, "bytesOut": 10_000, "packetsOut": 1}]
