"""loaders.cloudtrail_graph.CloudTrailDeltas: events → hourly-counted vertices and edges."""

from __future__ import annotations

import calendar
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest

from graph import model as m
from graph.batch import DeltaBuffer, EdgeDelta, VertexDelta, WriteBatch, validate_batch
from graph.model import VertexRef
from loaders.cloudtrail import Event, read_events
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.geo import GeoIndex, default_index

GRAPH = "arn:aws:detective:us-east-1:123837392027:graph:" + "c" * 32
ACCT = "123837392027"
H = calendar.timegm((2023, 7, 10, 11, 0, 0, 0, 0, 0))  # 2023-07-10T11:00:00Z
# invictus-ir-aws_dataset identities
BERT = {
    "type": "IAMUser",
    "principalId": "AIDATFQR7NSC5AU2ZV3IE",
    "arn": f"arn:aws:iam::{ACCT}:user/bert-jan",
    "accountId": ACCT,
    "accessKeyId": "AKIATFQR7NSC8Q4X20BJ",
    "userName": "bert-jan",
}
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/stratus-red-team-ec2-get-password-data-role"
SESSION_ID = "AROATFQR7NSCWWVLB7BES:aws-go-sdk-1688990082523310002"
SESSION_ARN = (
    f"arn:aws:sts::{ACCT}:assumed-role/"
    "stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1688990082523310002"
)
SESSION_UI = {
    "type": "AssumedRole",
    "principalId": SESSION_ID,
    "arn": SESSION_ARN,
    "accountId": ACCT,
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROATFQR7NSCWWVLB7BES",
            "arn": ROLE_ARN,
            "accountId": ACCT,
            "userName": "stratus-red-team-ec2-get-password-data-role",
        }
    },
}
USER_REF = VertexRef(m.USER, "AIDATFQR7NSC5AU2ZV3IE")
ACCT_REF = VertexRef(m.ACCOUNT, ACCT)
SESSION_REF = VertexRef(m.SESSION, SESSION_ID)
ROLE_REF = VertexRef(m.ROLE, "AROATFQR7NSCWWVLB7BES")


def at(minute: int, second: int = 0, hour: int = 11) -> str:
    return f"2023-07-10T{hour:02d}:{minute:02d}:{second:02d}Z"


def ts(minute: int, second: int = 0, hour: int = 11) -> int:
    return calendar.timegm((2023, 7, 10, hour, minute, second, 0, 0, 0))


def rec(name: str, time: str, source: str = "ec2.amazonaws.com", **fields: Any) -> dict[str, Any]:
    record = {
        "eventVersion": "1.08",
        "userIdentity": BERT,
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.168.10.20",
        "userAgent": "stratus-red-team_83a7c6f5",
        "recipientAccountId": ACCT,
    }
    record.update(fields)
    return record


def events(*records: dict[str, Any]) -> list[Event]:
    """Events decoded the loader's way (msgspec, from JSON bytes)."""
    data = json.dumps({"Records": list(records)}).encode()
    items = list(read_events(io.BytesIO(data)))
    assert all(isinstance(i, Event) for i in items), items
    return items  # type: ignore[return-value]


@dataclass
class View:
    vertices: dict[VertexRef, VertexDelta]
    edges: dict[tuple[str, VertexRef, VertexRef, str], EdgeDelta]

    def edge(self, label: str, src: VertexRef, dst: VertexRef, qualifier: str = "") -> EdgeDelta:
        return self.edges[(label, src, dst, qualifier)]

    def hours(
        self, label: str, src: VertexRef, dst: VertexRef, qualifier: str = ""
    ) -> dict[int, list[int]]:
        return self.edge(label, src, dst, qualifier).hours

    def of(self, label: str) -> set[tuple[VertexRef, VertexRef, str]]:
        return {(s, d, q) for (lbl, s, d, q) in self.edges if lbl == label}

    def labelled(self, label: str) -> set[str]:
        return {ref.key for ref in self.vertices if ref.label == label}


@pytest.fixture(scope="module")
def geo() -> GeoIndex:
    return default_index()


def expand(deltas: CloudTrailDeltas, geo: GeoIndex) -> View:
    out = DeltaBuffer()
    deltas.expand(out, geo)
    batch: WriteBatch = out.take(GRAPH, [])
    validate_batch(batch)  # the data model accepts everything written
    return View(
        {v.ref: v for v in batch.vertices},
        {(e.label, e.src, e.dst, e.qualifier): e for e in batch.edges},
    )


def view(geo: GeoIndex, *records: dict[str, Any]) -> View:
    deltas = CloudTrailDeltas(Principals())
    for event in events(*records):
        deltas.add(event, None)
    return expand(deltas, geo)


def test_events_of_one_hour_become_one_counted_row(geo: GeoIndex) -> None:
    v = view(
        geo,
        rec("DescribeInstances", at(5)),
        rec("DescribeInstances", at(20), errorCode="Client.UnauthorizedOperation"),
        rec("DescribeInstances", at(59, 59)),
        rec("DescribeInstances", at(0, 0, hour=12)),
    )
    api = VertexRef(m.API, "ec2.amazonaws.com:DescribeInstances")
    ip = VertexRef(m.IP, "192.168.10.20")
    agent = VertexRef(m.AGENT, "stratus-red-team_83a7c6f5")
    for target in (USER_REF, ACCT_REF):
        called = v.edge(m.CALLED, target, api, "192.168.10.20")
        assert called.hours == {H: [2, 1], H + 3600: [1, 0]}
        assert (called.first, called.last) == (ts(5), ts(0, 0, hour=12))
        assert v.hours(m.USED_IP, target, ip) == {H: [2, 1], H + 3600: [1, 0]}
        assert v.hours(m.USED_AGENT, target, agent) == {H: [2, 1], H + 3600: [1, 0]}
    assert v.hours(m.BELONGS_TO, USER_REF, ACCT_REF) == {H: [3], H + 3600: [1]}
    assert v.vertices[api].props == {"service": "ec2.amazonaws.com", "method": "DescribeInstances"}
    assert (v.vertices[api].first, v.vertices[api].last) == (ts(5), ts(0, 0, hour=12))
    user = v.vertices[USER_REF]
    assert user.props == {"name": "bert-jan", "arn": BERT["arn"], "account": ACCT}
    assert (user.first, user.last) == (ts(5), ts(0, 0, hour=12))
    assert v.vertices[ip].props == {"version": 4, "kind": "private"}
    assert v.of(m.LOCATED_IN) == set() and v.of(m.ANNOUNCED_BY) == set()
    assert v.labelled(m.ACCOUNT) == {ACCT}


def test_session_activity_rolls_up_to_role_and_account(geo: GeoIndex) -> None:
    v = view(
        geo,
        rec("GetPasswordData", at(55), userIdentity=SESSION_UI),
        rec("GetPasswordData", at(56), userIdentity=SESSION_UI, errorCode="ThrottlingException"),
    )
    api = VertexRef(m.API, "ec2.amazonaws.com:GetPasswordData")
    targets = {src for (src, dst, _q) in v.of(m.CALLED) if dst == api}
    assert targets == {SESSION_REF, ROLE_REF, ACCT_REF}
    for target in targets:
        assert v.hours(m.CALLED, target, api, "192.168.10.20") == {H: [1, 1]}
        assert v.hours(m.USED_IP, target, VertexRef(m.IP, "192.168.10.20")) == {H: [1, 1]}
    assert v.hours(m.ASSUMED_ROLE, SESSION_REF, ROLE_REF) == {H: [2]}
    assert v.hours(m.BELONGS_TO, SESSION_REF, ACCT_REF) == {H: [2]}
    assert v.hours(m.BELONGS_TO, ROLE_REF, ACCT_REF) == {H: [2]}


def test_instance_profile_sessions_roll_up_to_the_instance(geo: GeoIndex) -> None:
    ui = {**SESSION_UI, "principalId": "AROATFQR7NSCWWVLB7BES:i-0dbc91f429e48eeed"}
    v = view(geo, rec("DescribeInstances", at(1), userIdentity=ui))
    session = VertexRef(m.SESSION, "AROATFQR7NSCWWVLB7BES:i-0dbc91f429e48eeed")
    instance = VertexRef(m.INSTANCE, "i-0dbc91f429e48eeed")
    api = VertexRef(m.API, "ec2.amazonaws.com:DescribeInstances")
    assert {s for (s, _d, _q) in v.of(m.CALLED)} == {session, ROLE_REF, instance, ACCT_REF}
    assert v.hours(m.CALLED, instance, api, "192.168.10.20") == {H: [1, 0]}
    assert v.hours(m.RUNS_SESSION, instance, session) == {H: [1]}


def test_called_is_qualified_by_source_ip(geo: GeoIndex) -> None:
    v = view(
        geo,
        rec("ListBuckets", at(1), source="s3.amazonaws.com", sourceIPAddress="8.8.8.8"),
        rec("ListBuckets", at(2), source="s3.amazonaws.com", sourceIPAddress="10.8.8.10"),
        rec("ListBuckets", at(3), source="s3.amazonaws.com", sourceIPAddress="10.8.8.10"),
        rec("ListBuckets", at(4), source="s3.amazonaws.com", sourceIPAddress=None),
    )
    api = VertexRef(m.API, "s3.amazonaws.com:ListBuckets")
    assert {(s, q) for (s, d, q) in v.of(m.CALLED) if s == USER_REF} == {
        (USER_REF, "8.8.8.8"),
        (USER_REF, "10.8.8.10"),
        (USER_REF, ""),
    }
    assert v.hours(m.CALLED, USER_REF, api, "10.8.8.10") == {H: [2, 0]}
    assert v.hours(m.CALLED, USER_REF, api, "") == {H: [1, 0]}
    assert v.labelled(m.IP) == {"8.8.8.8", "10.8.8.10"}


@pytest.mark.parametrize("source_ip", ["ec2.amazonaws.com", "AWS Internal", "", "not-an-ip"])
def test_used_ip_only_for_real_addresses(geo: GeoIndex, source_ip: str) -> None:
    v = view(geo, rec("AssumeRole", at(1), source="sts.amazonaws.com", sourceIPAddress=source_ip))
    api = VertexRef(m.API, "sts.amazonaws.com:AssumeRole")
    assert v.hours(m.CALLED, USER_REF, api, source_ip) == {H: [1, 0]}
    assert v.of(m.USED_IP) == set()
    assert v.labelled(m.IP) == set()


def test_ip_vertices_are_enriched(geo: GeoIndex) -> None:
    v = view(
        geo,
        rec("ListBuckets", at(1), source="s3.amazonaws.com", sourceIPAddress="8.8.8.8"),
        rec("ListBuckets", at(2), source="s3.amazonaws.com", sourceIPAddress="::ffff:8.8.8.8"),
        rec("GetObject", at(3), source="s3.amazonaws.com", sourceIPAddress="8.8.8.8"),
        rec("GetObject", at(3, hour=12), source="s3.amazonaws.com", sourceIPAddress="8.8.8.8"),
    )
    ip = VertexRef(m.IP, "8.8.8.8")
    assert v.vertices[ip].props == {
        "version": 4,
        "kind": "public",
        "country": "US",
        "asn": 15169,
        "aso": "Google LLC",
    }
    assert (v.vertices[ip].first, v.vertices[ip].last) == (ts(1), ts(3, hour=12))
    geo_ref, aso = VertexRef(m.GEO, "US"), VertexRef(m.ASO, "AS15169")
    assert v.vertices[geo_ref].props == {"country": "US"}
    assert v.vertices[aso].props == {"asn": 15169, "organization": "Google LLC"}
    for place in (geo_ref, aso):  # observed over every hour of their addresses
        assert (v.vertices[place].first, v.vertices[place].last) == (ts(1), ts(3, hour=12))
    assert v.hours(m.LOCATED_IN, ip, geo_ref) == {H: [3], H + 3600: [1]}
    assert v.hours(m.ANNOUNCED_BY, ip, aso) == {H: [3], H + 3600: [1]}
    assert v.hours(m.USED_IP, USER_REF, ip) == {H: [3, 0], H + 3600: [1, 0]}
    # the qualifier keeps the address as recorded
    api = VertexRef(m.API, "s3.amazonaws.com:ListBuckets")
    assert v.hours(m.CALLED, USER_REF, api, "::ffff:8.8.8.8") == {H: [1, 0]}


ASSUME_ROLE = rec(
    "AssumeRole",
    at(54, 47),
    source="sts.amazonaws.com",
    requestParameters={
        "roleArn": ROLE_ARN,
        "roleSessionName": "aws-go-sdk-1688990082523310002",
        "durationSeconds": 900,
    },
    responseElements={
        "credentials": {"accessKeyId": "ASIATFQR7NSC7E2ZIBM2", "expiration": "Jul 10, 2023"},
        "assumedRoleUser": {"assumedRoleId": SESSION_ID, "arn": SESSION_ARN},
    },
)


def test_assume_role_starts_a_session(geo: GeoIndex) -> None:
    v = view(geo, ASSUME_ROLE, {**ASSUME_ROLE, "errorCode": "AccessDenied"})
    assert v.of(m.STARTED_SESSION) == {(USER_REF, SESSION_REF, "AssumeRole")}
    assert v.hours(m.STARTED_SESSION, USER_REF, SESSION_REF, "AssumeRole") == {H: [1]}
    assert v.hours(m.ASSUMED_ROLE, SESSION_REF, ROLE_REF) == {H: [1]}
    assert v.hours(m.BELONGS_TO, SESSION_REF, ACCT_REF) == {H: [1]}
    assert v.hours(m.BELONGS_TO, ROLE_REF, ACCT_REF) == {H: [1]}
    assert v.of(m.CHAINED_TO) == set()
    assert v.vertices[SESSION_REF].props == {
        "name": "aws-go-sdk-1688990082523310002",
        "arn": SESSION_ARN,
        "role_arn": ROLE_ARN,
        "role_name": "stratus-red-team-ec2-get-password-data-role",
        "account": ACCT,
    }
    assert v.vertices[ROLE_REF].props == {
        "name": "stratus-red-team-ec2-get-password-data-role",
        "arn": ROLE_ARN,
        "account": ACCT,
    }
    api = VertexRef(m.API, "sts.amazonaws.com:AssumeRole")
    assert v.hours(m.CALLED, USER_REF, api, "192.168.10.20") == {H: [1, 1]}


def test_assume_role_from_a_role_session_is_chaining(geo: GeoIndex) -> None:
    caller_ui = {**SESSION_UI, "principalId": "AROATFQR7NSCWWVLB7BES:first-hop"}
    caller = VertexRef(m.SESSION, "AROATFQR7NSCWWVLB7BES:first-hop")
    v = view(geo, {**ASSUME_ROLE, "userIdentity": caller_ui})
    assert v.of(m.CHAINED_TO) == {(caller, SESSION_REF, "AssumeRole")}
    assert v.hours(m.CHAINED_TO, caller, SESSION_REF, "AssumeRole") == {H: [1]}
    assert v.of(m.STARTED_SESSION) == set()


def test_assume_role_by_an_aws_service(geo: GeoIndex) -> None:
    # invictus-ir-aws_dataset: EC2 fetches instance-profile credentials for a new instance
    record = rec(
        "AssumeRole",
        at(55, 22),
        source="sts.amazonaws.com",
        userIdentity={"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
        sourceIPAddress="ec2.amazonaws.com",
        userAgent="ec2.amazonaws.com",
        requestParameters={
            "roleArn": f"arn:aws:iam::{ACCT}:role/stratus-red-team-ec2-steal-credentials-role",
            "roleSessionName": "i-0dbc91f429e48eeed",
        },
        responseElements={
            "assumedRoleUser": {
                "assumedRoleId": "AROATFQR7NSCQSNOHVZ6Z:i-0dbc91f429e48eeed",
                "arn": f"arn:aws:sts::{ACCT}:assumed-role/"
                "stratus-red-team-ec2-steal-credentials-role/i-0dbc91f429e48eeed",
            }
        },
    )
    v = view(geo, record)
    service = VertexRef(m.SERVICE, "ec2.amazonaws.com")
    session = VertexRef(m.SESSION, "AROATFQR7NSCQSNOHVZ6Z:i-0dbc91f429e48eeed")
    assert v.of(m.STARTED_SESSION) == {(service, session, "AssumeRole")}
    assert v.hours(m.ASSUMED_ROLE, session, VertexRef(m.ROLE, "AROATFQR7NSCQSNOHVZ6Z")) == {H: [1]}
    api = VertexRef(m.API, "sts.amazonaws.com:AssumeRole")
    assert {s for (s, _d, _q) in v.of(m.CALLED)} == {service, ACCT_REF}
    assert v.hours(m.CALLED, service, api, "ec2.amazonaws.com") == {H: [1, 0]}


def test_run_instances_creates_the_instance_and_its_interface(geo: GeoIndex) -> None:
    # invictus-ir-aws_dataset, 218007301253_..._20230710T1200Z_x9kHmzMa7cx6l9wM.json
    nic = {"networkInterfaceId": "eni-076fa9fb98a2500a7", "subnetId": "subnet-0ed352584ab4aa265"}
    item = {
        "instanceId": "i-0dbc91f429e48eeed",
        "imageId": "ami-029eb80bc237bec6f",
        "instanceType": "t3.micro",
        "subnetId": "subnet-0ed352584ab4aa265",
        "vpcId": "vpc-06fe1a64761a0f720",
        "networkInterfaceSet": {"items": [nic]},
    }
    record = rec(
        "RunInstances",
        at(55, 21),
        responseElements={"instancesSet": {"items": [item]}, "ownerId": ACCT},
    )
    failed = rec("RunInstances", at(56), errorCode="Client.UnauthorizedOperation")
    v = view(geo, record, failed)
    instance = VertexRef(m.INSTANCE, "i-0dbc91f429e48eeed")
    eni = VertexRef(m.ENI, "eni-076fa9fb98a2500a7")
    assert v.vertices[instance].props == {
        "arn": f"arn:aws:ec2:us-east-1:{ACCT}:instance/i-0dbc91f429e48eeed",
        "account": ACCT,
        "region": "us-east-1",
        "instance_type": "t3.micro",
        "image_id": "ami-029eb80bc237bec6f",
        "vpc_id": "vpc-06fe1a64761a0f720",
        "subnet_id": "subnet-0ed352584ab4aa265",
    }
    assert v.vertices[eni].props == {
        "account": ACCT,
        "vpc_id": "vpc-06fe1a64761a0f720",
        "subnet_id": "subnet-0ed352584ab4aa265",
        "region": "us-east-1",
    }
    assert v.of(m.LAUNCHED) == {(USER_REF, instance, "")}
    assert v.hours(m.LAUNCHED, USER_REF, instance) == {H: [1]}
    assert v.hours(m.HAS_INTERFACE, instance, eni) == {H: [1]}
    assert v.hours(m.BELONGS_TO, instance, ACCT_REF) == {H: [1]}
    api = VertexRef(m.API, "ec2.amazonaws.com:RunInstances")
    assert v.hours(m.CALLED, USER_REF, api, "192.168.10.20") == {H: [1, 1]}


def test_bucket_creation_and_deletion(geo: GeoIndex) -> None:
    def s3(name: str, time: str, **fields: Any) -> dict[str, Any]:
        params = {"bucketName": "stratus-logs", "Host": "stratus-logs.s3.amazonaws.com"}
        return rec(name, time, source="s3.amazonaws.com", requestParameters=params, **fields)

    v = view(
        geo,
        s3("CreateBucket", at(10)),
        s3("CreateBucket", at(5), errorCode="BucketAlreadyOwnedByYou"),
        s3("DeleteBucket", at(40), errorCode="BucketNotEmpty"),
        s3("DeleteBucket", at(50)),
        s3("DeleteBucket", at(45)),
    )
    bucket = VertexRef(m.BUCKET, "stratus-logs")
    assert v.vertices[bucket].props == {"created": ts(10), "deleted": ts(50)}
    assert (v.vertices[bucket].first, v.vertices[bucket].last) == (ts(5), ts(50))
    for target in (USER_REF, ACCT_REF):
        assert v.hours(m.ACCESSED_BUCKET, target, bucket, "CreateBucket") == {H: [1, 1]}
        assert v.hours(m.ACCESSED_BUCKET, target, bucket, "DeleteBucket") == {H: [2, 1]}


def test_s3_calls_access_buckets_qualified_by_event_name(geo: GeoIndex) -> None:
    def s3(name: str, bucket: str | None, **fields: Any) -> dict[str, Any]:
        params = {"bucketName": bucket, "key": "a.txt"} if bucket else None
        return rec(name, at(30), source="s3.amazonaws.com", requestParameters=params, **fields)

    v = view(
        geo,
        s3("GetObject", "b1", userIdentity=SESSION_UI),
        s3("GetObject", "b1", userIdentity=SESSION_UI, errorCode="AccessDenied"),
        s3("PutObject", "b1", userIdentity=SESSION_UI),
        s3("GetObject", "b2", userIdentity=SESSION_UI),
        s3("ListBuckets", None, userIdentity=SESSION_UI),
        # a bucket name outside S3 is not a bucket access
        rec("Decrypt", at(30), source="kms.amazonaws.com", requestParameters={"bucketName": "b3"}),
    )
    b1, b2 = VertexRef(m.BUCKET, "b1"), VertexRef(m.BUCKET, "b2")
    assert v.labelled(m.BUCKET) == {"b1", "b2"}
    expected = {
        (target, bucket, name)
        for target in (SESSION_REF, ROLE_REF, ACCT_REF)
        for bucket, name in ((b1, "GetObject"), (b1, "PutObject"), (b2, "GetObject"))
    }
    assert v.of(m.ACCESSED_BUCKET) == expected
    for target in (SESSION_REF, ROLE_REF, ACCT_REF):
        assert v.hours(m.ACCESSED_BUCKET, target, b1, "GetObject") == {H: [1, 1]}
        assert v.hours(m.ACCESSED_BUCKET, target, b2, "GetObject") == {H: [1, 0]}


@pytest.mark.parametrize(
    ("response", "error", "counts"),
    [
        ({"ConsoleLogin": "Success"}, None, [1, 0]),
        ({"ConsoleLogin": "Failure"}, None, [0, 1]),
        (None, None, [1, 0]),
        ({"ConsoleLogin": "Success"}, "AccessDenied", [0, 1]),
        ('{"ConsoleLogin": "Failure"}', None, [0, 1]),  # a body stored as a JSON string
    ],
)
def test_console_login_failures(
    geo: GeoIndex, response: Any, error: str | None, counts: list[int]
) -> None:
    record = rec(
        "ConsoleLogin",
        at(2),
        source="signin.amazonaws.com",
        eventType="AwsConsoleSignIn",
        responseElements=response,
        errorCode=error,
        errorMessage="Failed authentication" if response == {"ConsoleLogin": "Failure"} else None,
    )
    v = view(geo, record)
    api = VertexRef(m.API, "signin.amazonaws.com:ConsoleLogin")
    assert v.hours(m.CALLED, USER_REF, api, "192.168.10.20") == {H: counts}


def test_add_returns_the_account_and_rejects_unusable_events() -> None:
    deltas = CloudTrailDeltas(Principals())
    (good, bad_time, bad_identity) = events(
        rec("ListBuckets", at(1), recipientAccountId=None),
        rec("ListBuckets", "redacted"),
        rec("ListBuckets", at(1), userIdentity="someone"),
    )
    assert deltas.add(good, "999988887777") == "999988887777"
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp: 'redacted'"):
        deltas.add(bad_time, None)
    with pytest.raises(ValueError, match="^userIdentity: "):
        deltas.add(bad_identity, None)
    assert deltas.events == 1


def _everything() -> list[dict[str, Any]]:
    return [
        rec("DescribeInstances", at(minute), sourceIPAddress=ip)
        for minute, ip in ((1, "8.8.8.8"), (2, "1.1.1.1"), (3, "8.8.8.8"))
    ] + [
        rec("GetPasswordData", at(4, hour=12), userIdentity=SESSION_UI, errorCode="Throttling"),
        ASSUME_ROLE,
        rec("ListBuckets", at(5), source="s3.amazonaws.com", sourceIPAddress="8.8.8.8"),
        rec("GetObject", at(6), source="s3.amazonaws.com", requestParameters={"bucketName": "b"}),
        rec(
            "CreateBucket", at(7), source="s3.amazonaws.com", requestParameters={"bucketName": "b"}
        ),
        rec("DescribeInstances", at(8), sourceIPAddress="8.8.8.8"),
    ]


def _snapshot(v: View) -> tuple[dict[Any, Any], dict[Any, Any]]:
    vertices = {ref: (d.first, d.last, d.props) for ref, d in v.vertices.items()}
    edges = {key: (e.first, e.last, e.hours) for key, e in v.edges.items()}
    return vertices, edges


@pytest.mark.parametrize("split", [1, 4, 6, 8])
def test_absorbing_stagings_equals_staging_everything_once(geo: GeoIndex, split: int) -> None:
    principals = Principals()
    records = _everything()
    once = CloudTrailDeltas(principals)
    for event in events(*records):
        once.add(event, None)
    first, second = CloudTrailDeltas(principals), CloudTrailDeltas(principals)
    for event in events(*records[:split]):
        first.add(event, None)
    for event in events(*records[split:]):
        second.add(event, None)
    first.absorb(second)
    assert first.events == once.events == len(records)
    assert _snapshot(expand(first, geo)) == _snapshot(expand(once, geo))


def test_expand_leaves_the_staging_empty(geo: GeoIndex) -> None:
    deltas = CloudTrailDeltas(Principals())
    for event in events(*_everything()):
        deltas.add(event, None)
    assert len(deltas) > 0
    expand(deltas, geo)
    assert deltas.events == 0 and not deltas.tuples
    assert expand(deltas, geo) == View({}, {})
