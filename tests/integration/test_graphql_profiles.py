"""Entity profiles over GraphQL through uvicorn, on every store backend.

The scenario is written through the store contract, so every count below is known: a user who
assumes a role and chains to another, an instance with its instance-profile session and VPC
flows, addresses with geolocations, findings (one archived) and a finding group. The scope is
one day, D; the baseline window is the 45 days before it.
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
    ACCESSED_BUCKET,
    ACCOUNT,
    AGENT,
    ANNOUNCED_BY,
    API,
    ASO,
    ASSUMED_ROLE,
    BELONGS_TO,
    BUCKET,
    CALLED,
    CHAINED_TO,
    ENI,
    FINDING,
    FINDING_GROUP,
    FLOW,
    GEO,
    HAS_INTERFACE,
    IN_GROUP,
    INSTANCE,
    INVOLVES,
    IP,
    LAUNCHED,
    LOCATED_IN,
    ROLE,
    RUNS_SESSION,
    SESSION,
    STARTED_SESSION,
    USED_AGENT,
    USED_IP,
    USER,
    VertexRef,
)
from graph.open import open_store
from graph.store import GraphStore
from tests.conftest import GRAPH
from tests.integration.uvicorn_thread import serving

HOUR, DAY = 3600, 86_400
D = 1_700_000_000 - 1_700_000_000 % DAY  # the scope day, 00:00 UTC
NOW = D + DAY - 60  # the clock: the default scope is the day D
A = "111122223333"
ACCT = VertexRef(ACCOUNT, A)
U = VertexRef(USER, "AIDAALICE")
U2 = VertexRef(USER, "AIDAALICE2")
BOB1 = VertexRef(USER, "AIDABOB1")
BOB2 = VertexRef(USER, "AIDABOB2")
R = VertexRef(ROLE, "AROADEPLOY")
R2 = VertexRef(ROLE, "AROAAUDIT")
S1 = VertexRef(SESSION, "AROADEPLOY:alice")
S2 = VertexRef(SESSION, "AROADEPLOY:i-0abc")
S3 = VertexRef(SESSION, "AROAAUDIT:chained")
I = VertexRef(INSTANCE, "i-0abc")  # noqa: E741
NIC = VertexRef(ENI, "eni-1")
IP1, IP2 = VertexRef(IP, "198.51.100.7"), VertexRef(IP, "203.0.113.50")
REMOTE, PRIVATE = VertexRef(IP, "203.0.113.9"), VertexRef(IP, "10.0.0.5")
UA1, UA2 = VertexRef(AGENT, "aws-cli/2.15"), VertexRef(AGENT, "python-requests/2.31")
GET, LIST = (
    VertexRef(API, "s3.amazonaws.com:GetObject"),
    VertexRef(API, "s3.amazonaws.com:ListBuckets"),
)
DESC = VertexRef(API, "ec2.amazonaws.com:DescribeInstances")
PUT = VertexRef(API, "s3.amazonaws.com:PutObject")
LOGS = VertexRef(BUCKET, "logs")
F1, F2, F3 = VertexRef(FINDING, "f1"), VertexRef(FINDING, "f2"), VertexRef(FINDING, "f3")
G1 = VertexRef(FINDING_GROUP, "g1")
SCOPE = {"start": "2023-11-14T00:00:00Z", "end": "2023-11-15T00:00:00Z"}
assert D == 1_699_920_000  # SCOPE above spells D

CREDENTIALS = f"""
[admin]
api_token = admin-token-0123456789
account_id = {A}

[other]
api_token = other-token-0123456789
account_id = 444455556666
"""
ADMIN = {"Authorization": "Bearer admin-token-0123456789"}
OTHER = {"Authorization": "Bearer other-token-0123456789"}


def _call(
    buf: DeltaBuffer,
    chain: tuple[VertexRef, ...],
    api: VertexRef,
    ts: int,
    ok: int,
    bad: int,
    ip: VertexRef,
    ua: VertexRef,
) -> None:
    """One principal's calls as the loader writes them: for the principal and its rollups."""
    for ref in chain:
        buf.edge(CALLED, ref, api, ts, (ok, bad), qualifier=ip.key)
        buf.edge(USED_IP, ref, ip, ts, (ok, bad))
        buf.edge(USED_AGENT, ref, ua, ts, (ok, bad))
    leaf = chain[0]
    for ref in chain[:-1]:
        if ref.label in (USER, ROLE, SESSION, INSTANCE):
            buf.edge(BELONGS_TO, ref, ACCT, ts, (ok + bad,))
    if leaf.label == SESSION:
        role = VertexRef(ROLE, leaf.key.partition(":")[0])
        buf.edge(ASSUMED_ROLE, leaf, role, ts, (ok + bad,))
        if I in chain:
            buf.edge(RUNS_SESSION, I, leaf, ts, (ok + bad,))


def scenario(store: GraphStore) -> None:
    buf = DeltaBuffer()
    people = {
        U: ("alice", f"arn:aws:iam::{A}:user/alice", A),
        U2: ("alice2", f"arn:aws:iam::{A}:user/alice2", A),
        BOB1: ("bob", f"arn:aws:iam::{A}:user/bob", A),
        BOB2: ("bob", "arn:aws:iam::999988887777:user/bob", "999988887777"),
        R: ("deploy", f"arn:aws:iam::{A}:role/deploy", A),
        R2: ("audit", f"arn:aws:iam::{A}:role/audit", A),
    }
    for ref, (name, arn, account) in people.items():
        buf.vertex(ref, D - 90 * DAY, D - 90 * DAY, {"name": name, "arn": arn, "account": account})
    for session, role in ((S1, "deploy"), (S2, "deploy"), (S3, "audit")):
        name = session.key.partition(":")[2]
        buf.vertex(session, D, None, {"name": name, "role_name": role, "account": A})
    for ip, country, asn, org in ((IP1, "US", 64500, "Example Net"), (IP2, "DE", 64501, "Hoster")):
        buf.vertex(ip, D - 90 * DAY, D - 90 * DAY, {"country": country, "asn": asn, "aso": org})
        buf.edge(LOCATED_IN, ip, VertexRef(GEO, country), D - 90 * DAY, (1,))
        buf.vertex(
            VertexRef(ASO, f"AS{asn}"), D - 90 * DAY, None, {"asn": asn, "organization": org}
        )
        buf.edge(ANNOUNCED_BY, ip, VertexRef(ASO, f"AS{asn}"), D - 90 * DAY, (1,))
    # the user: seen long ago, in the baseline window, in the scope, and after it
    _call(buf, (U, ACCT), DESC, D - 60 * DAY, 1, 0, IP1, UA1)
    _call(buf, (U, ACCT), GET, D - 10 * DAY, 2, 0, IP1, UA1)
    _call(buf, (U, ACCT), GET, D + 2 * HOUR + 10, 3, 1, IP1, UA1)
    _call(buf, (U, ACCT), LIST, D + 2 * HOUR + 20, 5, 0, IP2, UA2)
    _call(buf, (U, ACCT), DESC, D + 2 * HOUR + 30, 1, 0, IP1, UA1)
    # PutObject: from IP1 in the baseline window, from IP2 (a new edge) in the scope
    _call(buf, (U, ACCT), PUT, D - 5 * DAY, 1, 0, IP1, UA1)
    _call(buf, (U, ACCT), PUT, D + 2 * HOUR + 40, 2, 0, IP2, UA2)
    _call(buf, (U, ACCT), GET, D + 30 * HOUR, 7, 0, IP1, UA1)
    buf.edge(ACCESSED_BUCKET, U, LOGS, D + 2 * HOUR + 10, (3, 0), qualifier="GetObject")
    # alice assumes deploy (S1), which chains to audit (S3)
    buf.edge(STARTED_SESSION, U, S1, D + 3 * HOUR, (1,), qualifier="AssumeRole")
    _call(buf, (S1, R, ACCT), GET, D + 3 * HOUR + 5, 4, 0, IP2, UA2)
    buf.edge(CHAINED_TO, S1, S3, D + 3 * HOUR + 60, (1,), qualifier="AssumeRole")
    _call(buf, (S3, R2, ACCT), LIST, D + 3 * HOUR + 70, 1, 0, IP2, UA2)
    # the instance: launched by alice, its profile session calls, its interface's flows
    buf.vertex(I, D - 20 * DAY, None, {"instance_type": "t3.micro", "account": A})
    buf.edge(LAUNCHED, U, I, D - 20 * DAY, (1,))
    buf.edge(HAS_INTERFACE, I, NIC, D - 20 * DAY, (1,))
    _call(buf, (S2, R, I, ACCT), DESC, D + 5 * HOUR, 2, 0, PRIVATE, UA1)
    flow = (100, 2000, 1, 2)
    buf.edge(FLOW, NIC, REMOTE, D + 4 * HOUR, flow, qualifier="6/443/51515/egress/ACCEPT")
    # the instance's own FLOW edge is a subset of its interface's: never to be added
    buf.edge(FLOW, I, REMOTE, D + 4 * HOUR, flow, qualifier="6/443/51515/egress/ACCEPT")
    # findings: f1 in the scope (grouped), f2 archived, f3 a month before
    findings = {
        F1: (D + HOUR, D + 6 * HOUR, {"type": "Recon:IAMUser/MaliciousIPCaller", "severity": 8.0}),
        F2: (
            D + HOUR,
            D + 2 * HOUR,
            {"type": "Policy:IAMUser/RootCredentialUsage", "archived": True},
        ),
        F3: (D - 30 * DAY, D - 30 * DAY + HOUR, {"type": "Discovery:S3/AnomalousBehavior"}),
    }
    for ref, (first, last, props) in findings.items():
        buf.vertex(ref, first, last, {"account": A, **props})  # type: ignore[dict-item]
        buf.edge(INVOLVES, ref, U, last, (1,), qualifier="actor")
    buf.edge(INVOLVES, F1, IP2, D + 6 * HOUR, (1,), qualifier="remote")
    group = {"title": "Group with: TTP (1)", "severity": 8.0, "status": "ACTIVE",
             "tactics": '["Discovery"]'}  # fmt: skip
    buf.vertex(G1, D + HOUR, D + 6 * HOUR, group)  # type: ignore[arg-type]
    buf.edge(IN_GROUP, F1, G1, D + 6 * HOUR, (1,))
    store.write(buf.take(GRAPH, []))


def served(store: GraphStore) -> Iterator[httpx.Client]:
    """The scenario in `store`, served by uvicorn; a client authenticated as its admin."""
    scenario(store)
    app = create_app(
        lambda: open_store(store.uri),
        authenticator=Authenticator(parse_credentials(CREDENTIALS)),
        clock=lambda: NOW,
    )
    with serving(app) as base, httpx.Client(base_url=base, headers=ADMIN, timeout=60) as client:
        yield client


@pytest.fixture
def api(store: GraphStore) -> Iterator[httpx.Client]:
    yield from served(store)


def gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


def errors(client: httpx.Client, query: str, **variables: Any) -> list[dict[str, Any]]:
    body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    assert body.get("errors"), body
    return body["errors"]  # type: ignore[no-any-return]


PROFILE = """
query($g: ID!, $type: EntityType!, $id: ID!, $scope: ScopeInput) {
  entity(graphArn: $g, type: $type, id: $id) {
    id type
    ... on Principal {
      apiCallVolume(scope: $scope) {
        totalSuccess totalFailed
        buckets { start success failed expected lower upper }
        byMethod { service method success failed sourceIps { ipAddress success failed } }
        bySourceIp { ipAddress success failed methods { method success } }
        byCaller { callerId callerType success failed caller { id } }
      }
      newBehaviors(scope: $scope) {
        apiCalls { service method success newlyObserved firstObserved increasedVolume }
        userAgents { userAgent newlyObserved }
        geolocations { location country newlyObserved ipAddresses firstObserved }
        asos { aso asn organization newlyObserved }
        increasedVolume { method }
      }
      resourceInteraction(scope: $scope) {
        role { entityId } instance { entityId }
        startedBy { entityId via }
        sessions { entityId count }
        assumedBy { entityId via throughSessionIds }
        sessionsStarted { entityId entity { id } }
        rolesAssumed { entityId entityType entity { ... on AwsRole { name } } }
        launchedBy { entityId }
      }
    }
  }
}
"""


def profile(client: httpx.Client, type_: str, id_: str, scope: Any = SCOPE) -> dict[str, Any]:
    entity = gql(client, PROFILE, g=GRAPH, type=type_, id=id_, scope=scope)["entity"]
    assert entity is not None
    return entity  # type: ignore[no-any-return]


def _by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_user_profile(api: httpx.Client) -> None:
    p = profile(api, "AWS_USER", U.key)
    v = p["apiCallVolume"]
    assert (v["totalSuccess"], v["totalFailed"]) == (11, 1)
    assert len(v["buckets"]) == 24
    hour = v["buckets"][2]
    assert (hour["start"], hour["success"], hour["failed"]) == (
        "2023-11-14T02:00:00+00:00", 11, 1,
    )  # fmt: skip
    # five calls in 45 days: next to nothing is expected, and 12 calls are above the band
    for b in v["buckets"]:
        assert 0 <= b["lower"] <= b["expected"] <= b["upper"]
    assert hour["expected"] < 0.1 and 1 < hour["upper"] < 12
    assert sum(b["success"] for b in v["buckets"]) == 11
    methods = _by(v["byMethod"], "method")
    assert [m["method"] for m in v["byMethod"]] == [
        "ListBuckets", "GetObject", "PutObject", "DescribeInstances",
    ]  # fmt: skip
    assert (methods["GetObject"]["success"], methods["GetObject"]["failed"]) == (3, 1)
    assert methods["GetObject"]["sourceIps"] == [{"ipAddress": IP1.key, "success": 3, "failed": 1}]
    ips = _by(v["bySourceIp"], "ipAddress")
    assert (ips[IP1.key]["success"], ips[IP1.key]["failed"]) == (4, 1)
    assert ips[IP2.key]["methods"] == [
        {"method": "ListBuckets", "success": 5}, {"method": "PutObject", "success": 2},
    ]  # fmt: skip
    assert v["byCaller"] == [{"callerId": U.key, "callerType": "AWS_USER", "success": 11,
                              "failed": 1, "caller": {"id": U.key}}]  # fmt: skip

    nb = p["newBehaviors"]
    calls = _by(nb["apiCalls"], "method")
    assert calls["GetObject"]["newlyObserved"] is False  # used in the baseline window
    assert calls["ListBuckets"]["newlyObserved"] is True  # first used in the scope
    # first called from IP2 in the scope, but from IP1 in the baseline window
    assert calls["PutObject"]["newlyObserved"] is False
    # used 60 days before (outside the 45-day baseline window), so new again
    assert calls["DescribeInstances"]["newlyObserved"] is True
    assert calls["DescribeInstances"]["firstObserved"] == "2023-09-15T00:00:00+00:00"
    # ListBuckets is new, not increased; the others are too few calls to be a volume change
    assert calls["ListBuckets"]["increasedVolume"] is False and nb["increasedVolume"] == []
    assert [c["newlyObserved"] for c in nb["apiCalls"]] == [True, True, False, False]  # new first
    assert {a["userAgent"]: a["newlyObserved"] for a in nb["userAgents"]} == {
        UA1.key: False, UA2.key: True,
    }  # fmt: skip
    geos = _by(nb["geolocations"], "location")
    assert (geos["US"]["newlyObserved"], geos["DE"]["newlyObserved"]) == (False, True)
    assert geos["DE"]["ipAddresses"] == [IP2.key]
    asos = _by(nb["asos"], "aso")
    assert asos["AS64501"] == {"aso": "AS64501", "asn": 64501, "organization": "Hoster",
                               "newlyObserved": True}  # fmt: skip
    assert asos["AS64500"]["newlyObserved"] is False

    ri = p["resourceInteraction"]
    assert [s["entityId"] for s in ri["sessionsStarted"]] == [S1.key]
    assert ri["sessionsStarted"][0]["entity"] == {"id": S1.key}
    assert ri["rolesAssumed"] == [{"entityId": R.key, "entityType": "AWS_ROLE",
                                   "entity": {"name": "deploy"}}]  # fmt: skip


def test_role_profile(api: httpx.Client) -> None:
    p = profile(api, "AWS_ROLE", "deploy")
    v = p["apiCallVolume"]
    assert v["totalSuccess"] == 6
    assert [(c["callerId"], c["success"]) for c in v["byCaller"]] == [(S1.key, 4), (S2.key, 2)]
    ri = p["resourceInteraction"]
    assert {s["entityId"] for s in ri["sessions"]} == {S1.key, S2.key}
    assert ri["assumedBy"] == [{"entityId": U.key, "via": ["AssumeRole"],
                                "throughSessionIds": [S1.key]}]  # fmt: skip
    assert [s["entityId"] for s in ri["sessionsStarted"]] == [S3.key]  # role chaining
    assert [r["entityId"] for r in ri["rolesAssumed"]] == [R2.key]


def test_session_profile(api: httpx.Client) -> None:
    ri = profile(api, "AWS_ROLE_SESSION", S1.key)["resourceInteraction"]
    assert ri["role"] == {"entityId": R.key} and ri["instance"] is None
    assert ri["startedBy"] == [{"entityId": U.key, "via": ["AssumeRole"]}]
    assert [s["entityId"] for s in ri["sessionsStarted"]] == [S3.key]
    assert [r["entityId"] for r in ri["rolesAssumed"]] == [R2.key]
    chained = profile(api, "AWS_ROLE_SESSION", S3.key)["resourceInteraction"]
    assert chained["startedBy"] == [{"entityId": S1.key, "via": ["AssumeRole"]}]
    host = profile(api, "AWS_ROLE_SESSION", S2.key)["resourceInteraction"]
    assert host["instance"] == {"entityId": I.key}


def test_account_callers_add_up(api: httpx.Client) -> None:
    v = profile(api, "AWS_ACCOUNT", A)["apiCallVolume"]
    assert (v["totalSuccess"], v["totalFailed"]) == (18, 1)
    callers = {c["callerId"]: (c["success"], c["failed"]) for c in v["byCaller"]}
    assert callers == {U.key: (11, 1), R.key: (6, 0), R2.key: (1, 0)}


def test_instance_profile_and_flows(api: httpx.Client) -> None:
    q = """query($g: ID!, $scope: ScopeInput) {
      entity(graphArn: $g, type: EC2_INSTANCE, id: "i-0abc") {
        ... on Ec2Instance {
          instanceType
          apiCallVolume(scope: $scope) { totalSuccess byCaller { callerId } }
          resourceInteraction(scope: $scope) { sessions { entityId } rolesAssumed { entityId }
                                               launchedBy { entityId } }
          vpcFlowVolume(scope: $scope) {
            totalBytesIn totalBytesOut
            buckets { start bytesIn bytesOut }
            rows { remoteIpAddress protocol localPort remotePort direction action bytesIn
                   bytesOut packetsIn packetsOut }
          }
        }
      }
    }"""
    e = gql(api, q, g=GRAPH, scope=SCOPE)["entity"]
    assert e["instanceType"] == "t3.micro"
    assert e["apiCallVolume"]["totalSuccess"] == 2
    assert e["apiCallVolume"]["byCaller"] == [{"callerId": S2.key}]
    ri = e["resourceInteraction"]
    assert ri["sessions"] == [{"entityId": S2.key}] and ri["rolesAssumed"] == [{"entityId": R.key}]
    assert ri["launchedBy"] == [{"entityId": U.key}]
    f = e["vpcFlowVolume"]
    # the interface's traffic, not added to the instance's own copy of it
    assert (f["totalBytesIn"], f["totalBytesOut"]) == (100, 2000)
    assert f["buckets"][4] == {"start": "2023-11-14T04:00:00+00:00", "bytesIn": 100,
                               "bytesOut": 2000}  # fmt: skip
    assert f["rows"] == [{
        "remoteIpAddress": REMOTE.key, "protocol": "TCP", "localPort": "443",
        "remotePort": "51515", "direction": "egress", "action": "ACCEPT", "bytesIn": 100,
        "bytesOut": 2000, "packetsIn": 1, "packetsOut": 2,
    }]  # fmt: skip


def test_address_profile_turns_flows_around(api: httpx.Client) -> None:
    q = """query($g: ID!, $scope: ScopeInput) {
      entity(graphArn: $g, type: IP_ADDRESS, id: "203.0.113.9") {
        ... on IpAddress {
          vpcFlowVolume(scope: $scope) {
            totalBytesIn totalBytesOut
            rows { interfaceId instanceId remoteIpAddress direction bytesIn bytesOut }
          }
        }
      }
    }"""
    f = gql(api, q, g=GRAPH, scope=SCOPE)["entity"]["vpcFlowVolume"]
    assert (f["totalBytesIn"], f["totalBytesOut"]) == (2000, 100)
    assert f["rows"] == [{"interfaceId": NIC.key, "instanceId": I.key, "remoteIpAddress": None,
                          "direction": "ingress", "bytesIn": 2000, "bytesOut": 100}]  # fmt: skip


def test_calls_seen_from_an_address_a_bucket_and_a_user_agent(api: httpx.Client) -> None:
    q = """query($g: ID!, $type: EntityType!, $id: ID!, $scope: ScopeInput) {
      entity(graphArn: $g, type: $type, id: $id) {
        ... on ApiActivity {
          apiCallVolume(scope: $scope) {
            totalSuccess byMethod { method success } byCaller { callerId success }
          }
        }
      }
    }"""

    def volume(type_: str, id_: str) -> dict[str, Any]:
        e = gql(api, q, g=GRAPH, type=type_, id=id_, scope=SCOPE)["entity"]
        return e["apiCallVolume"]  # type: ignore[no-any-return]

    ip = volume("IP_ADDRESS", IP2.key)  # counted once per acting principal, not per rollup
    assert ip["totalSuccess"] == 12
    assert {c["callerId"]: c["success"] for c in ip["byCaller"]} == {U.key: 7, S1.key: 4,
                                                                      S3.key: 1}  # fmt: skip
    methods = {m["method"]: m["success"] for m in ip["byMethod"]}
    assert methods == {"ListBuckets": 6, "GetObject": 4, "PutObject": 2}
    bucket = volume("S3_BUCKET", "logs")
    assert bucket["byMethod"] == [{"method": "GetObject", "success": 3}]
    assert bucket["byCaller"] == [{"callerId": U.key, "success": 3}]
    agent = volume("USER_AGENT", UA2.key)
    assert agent["totalSuccess"] == 12 and agent["byMethod"] == []
