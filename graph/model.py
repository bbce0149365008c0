"""The behavior graph's data model: every vertex and edge type, declared once.

Loaders, stores, baselines and the API all read these declarations; nobody spells a label or a
property name anywhere else. A guard test checks every declaration for consistency.

Identity rules follow Amazon Detective (see README, "Data model"):
- a vertex is identified by (graph, label, key); keys are the entity's natural id
  (principal id, `<rolePrincipalId>:<sessionName>`, IP text, bucket name, ...);
- an edge is identified by (graph, label, source vertex, target vertex, qualifier); the qualifier
  distinguishes parallel relationships such as the same API called from different source IPs;
- every edge is counted per UTC hour (the behavior graph's time unit) with the counters its type
  declares, and carries first/last observed timestamps (UTC epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

HOUR = 3600
Scalar = str | int | float | bool | None


class Merge(Enum):
    """How a vertex property combines a stored value with a newly written one."""

    FIRST = "first"  # keep the stored value; fill it when it is still unknown
    LAST = "last"  # overwrite with every newer non-null value (in load order)
    MIN = "min"
    MAX = "max"
    # the value written with the newest version (VertexType.version), whatever the load order:
    # GuardDuty re-exports a finding on every update, and files may load oldest-last. An older
    # write only fills a value still unknown; equal versions keep the larger value (so the result
    # never depends on the order of writes).
    NEWEST = "newest"


class VertexRef(NamedTuple):
    label: str
    key: str


@dataclass(frozen=True, slots=True)
class VertexType:
    label: str
    doc: str
    key_doc: str
    props: tuple[tuple[str, Merge], ...] = ()
    # Properties whose values are also search terms (besides the key), e.g. name and ARN.
    search: tuple[str, ...] = ()
    # Principals have an API call volume; rollups aggregate the activity of other principals.
    principal: bool = False
    rollup: bool = False
    # the MAX property that orders writes for NEWEST properties (e.g. a finding's updated time)
    version: str | None = None

    @property
    def prop_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.props)

    def merge_of(self, prop: str) -> Merge:
        for name, merge in self.props:
            if name == prop:
                return merge
        raise KeyError(f"{self.label} has no property {prop!r}")


@dataclass(frozen=True, slots=True)
class EdgeType:
    label: str
    doc: str
    src: frozenset[str]
    dst: frozenset[str]
    counters: tuple[str, ...]
    qualifier_doc: str | None = None  # None: the qualifier is always ""
    # Activity edges are written for the acting principal and again for each of its rollups.
    activity: bool = False


F, L, MN, MX, NW = Merge.FIRST, Merge.LAST, Merge.MIN, Merge.MAX, Merge.NEWEST

ACCOUNT = "AwsAccount"
USER = "AwsUser"
ROLE = "AwsRole"
SESSION = "AwsRoleSession"
FEDERATED = "FederatedUser"
SERVICE = "AwsService"
INSTANCE = "Ec2Instance"
ENI = "NetworkInterface"
IP = "IpAddress"
AGENT = "UserAgent"
BUCKET = "S3Bucket"
API = "ApiOperation"
GEO = "Geolocation"
ASO = "Aso"
FINDING = "Finding"
EKS_CLUSTER = "EksCluster"
POD = "KubernetesPod"
FINDING_GROUP = "FindingGroup"

VERTEX_TYPES: dict[str, VertexType] = {
    vt.label: vt
    for vt in (
        VertexType(
            ACCOUNT,
            "An AWS account. Its activity is the sum over its principals (a rollup).",
            "12-digit account id",
            props=(("name", F),),
            principal=True,
            rollup=True,
        ),
        VertexType(
            USER,
            "An IAM user, or an account's root user (key = the account id, name 'root').",
            "principal id (AIDA...)",
            props=(("name", F), ("arn", F), ("account", F)),
            search=("name", "arn"),
            principal=True,
        ),
        VertexType(
            ROLE,
            "An IAM role. Its activity is the sum over its role sessions (a rollup).",
            "role principal id (AROA...)",
            props=(("name", F), ("arn", F), ("account", F)),
            search=("name", "arn"),
            principal=True,
            rollup=True,
        ),
        VertexType(
            SESSION,
            "A role session: credentials from AssumeRole*, an instance profile or SSO.",
            "<rolePrincipalId>:<sessionName>",
            props=(
                ("name", F),
                ("arn", F),
                ("account", F),
                ("role_name", F),
                ("role_arn", F),
            ),
            search=("name", "arn", "role_name"),
            principal=True,
        ),
        VertexType(
            FEDERATED,
            "A SAML, web-identity, IAM Identity Center or STS federated user.",
            "<identityProvider>:[<audience>:]<userName>",
            props=(("name", F), ("idp", F), ("audience", F), ("account", F), ("arn", F)),
            search=("name", "arn"),
            principal=True,
        ),
        VertexType(
            SERVICE,
            "An AWS service acting on an account's behalf (userIdentity type AWSService).",
            "service principal, e.g. config.amazonaws.com",
            principal=True,
        ),
        VertexType(
            INSTANCE,
            "An EC2 instance. Its API activity is that of its instance-profile sessions.",
            "instance id (i-...)",
            props=(
                ("arn", F),
                ("account", F),
                ("region", F),
                ("instance_type", F),
                ("image_id", F),
                ("vpc_id", F),
                ("subnet_id", F),
            ),
            search=("arn",),
            principal=True,
            rollup=True,
        ),
        VertexType(
            ENI,
            "An elastic network interface; flow logs are recorded per interface.",
            "interface id (eni-...)",
            props=(("account", F), ("vpc_id", F), ("subnet_id", F), ("region", F)),
        ),
        VertexType(
            IP,
            "An IPv4 or IPv6 address with its offline geolocation and ASO.",
            "normalized address text",
            props=(
                ("version", F),
                ("kind", F),
                ("country", L),
                ("city", L),
                ("asn", L),
                ("aso", L),
            ),
        ),
        VertexType(AGENT, "A user-agent string as CloudTrail recorded it.", "the string"),
        VertexType(
            BUCKET,
            "An S3 bucket; a bucket deleted and recreated under its name is one entity.",
            "bucket name",
            props=(("arn", F), ("account", F), ("created", MN), ("deleted", MX)),
            search=("arn",),
        ),
        VertexType(
            API,
            "An API operation: service (event source) and method (event name).",
            "<eventSource>:<eventName>",
            props=(("service", F), ("method", F)),
            search=("method",),
        ),
        VertexType(
            GEO,
            "A geolocation: a country, or a city within a country where known.",
            "<country>[/<city>]",
            props=(("country", F), ("city", F)),
        ),
        VertexType(
            ASO,
            "An autonomous system organization (ASN and its organization name).",
            "AS<number>",
            props=(("asn", F), ("organization", L)),
            search=("organization",),
        ),
        VertexType(
            FINDING,
            "A GuardDuty finding, updated in place when seen again (the newest version wins). "
            "Its first/last observed are the activity's first and last seen times.",
            "finding id",
            props=(
                ("arn", F),
                ("type", NW),
                ("severity", NW),  # float, 0.0-10.0 (GuardDuty's scale)
                ("title", NW),
                ("description", NW),
                ("account", F),
                ("region", F),
                ("created", MN),
                ("updated", MX),  # the version: updatedAt, epoch seconds
                ("count", MX),  # GuardDuty's own occurrence counter: grows, never summed
                ("archived", NW),
                ("sample", NW),
            ),
            search=("arn",),
            version="updated",
        ),
        VertexType(
            EKS_CLUSTER,
            "An Amazon EKS cluster (from GuardDuty's EKS and runtime findings).",
            "cluster ARN",
            props=(("name", F), ("arn", F), ("account", F), ("region", F)),
            search=("name", "arn"),
        ),
        VertexType(
            POD,
            "A Kubernetes pod of an EKS cluster.",
            "<cluster ARN>/<namespace>/<pod name>",
            props=(("name", F), ("namespace", F), ("account", F)),
            search=("name",),
        ),
        VertexType(
            FINDING_GROUP,
            "Findings that share entities within a time window.",
            "group id",
            props=(
                ("title", L),
                ("severity", L),
                ("severity_label", L),
                ("tactics", L),  # JSON list, kill-chain order
                ("status", L),  # ACTIVE, or INACTIVE once merged into a child group
                ("parents", L),  # JSON list of the groups this one merged
                ("child", L),  # the group this one merged into
                ("created", F),
                ("findings", L),  # number of member findings
                ("accounts", L),  # JSON list
            ),
        ),
    )
}

LEAF_PRINCIPALS = frozenset({USER, SESSION, FEDERATED, SERVICE})
PRINCIPALS = frozenset(label for label, vt in VERTEX_TYPES.items() if vt.principal)
ROLLUPS = frozenset(label for label, vt in VERTEX_TYPES.items() if vt.rollup)
ACTIVITY_SOURCES = LEAF_PRINCIPALS | ROLLUPS

OK_FAIL = ("success", "failure")
COUNT = ("count",)

CALLED = "CALLED"
USED_IP = "USED_IP"
USED_AGENT = "USED_USER_AGENT"
ACCESSED_BUCKET = "ACCESSED_BUCKET"
ASSUMED_ROLE = "ASSUMED_ROLE"
STARTED_SESSION = "STARTED_SESSION"
CHAINED_TO = "CHAINED_TO"
RUNS_SESSION = "RUNS_SESSION"
BELONGS_TO = "BELONGS_TO"
LAUNCHED = "LAUNCHED"
HAS_INTERFACE = "HAS_INTERFACE"
LOCATED_IN = "LOCATED_IN"
ANNOUNCED_BY = "ANNOUNCED_BY"
FLOW = "FLOW"
INVOLVES = "INVOLVES"
IN_GROUP = "IN_GROUP"

EDGE_TYPES: dict[str, EdgeType] = {
    et.label: et
    for et in (
        EdgeType(
            CALLED,
            "A principal called an API operation (success = no errorCode).",
            ACTIVITY_SOURCES,
            frozenset({API}),
            OK_FAIL,
            qualifier_doc="sourceIPAddress as recorded (an IP or a service name), '' if absent",
            activity=True,
        ),
        EdgeType(
            USED_IP,
            "A principal made API calls from an IP address.",
            ACTIVITY_SOURCES,
            frozenset({IP}),
            OK_FAIL,
            activity=True,
        ),
        EdgeType(
            USED_AGENT,
            "A principal made API calls with a user agent.",
            ACTIVITY_SOURCES,
            frozenset({AGENT}),
            OK_FAIL,
            activity=True,
        ),
        EdgeType(
            ACCESSED_BUCKET,
            "A principal made API calls naming an S3 bucket.",
            ACTIVITY_SOURCES,
            frozenset({BUCKET}),
            OK_FAIL,
            qualifier_doc="eventName of the call",
            activity=True,
        ),
        EdgeType(
            ASSUMED_ROLE,
            "A role session is a session of this role (observed on every call it makes).",
            frozenset({SESSION}),
            frozenset({ROLE}),
            COUNT,
        ),
        EdgeType(
            STARTED_SESSION,
            "A caller (user, federated user, AWS service, account) started a role session.",
            frozenset({USER, FEDERATED, SERVICE, ACCOUNT}),
            frozenset({SESSION}),
            COUNT,
            qualifier_doc="the AssumeRole* event name",
        ),
        EdgeType(
            CHAINED_TO,
            "Role chaining: a role session assumed a role and so started another session.",
            frozenset({SESSION}),
            frozenset({SESSION}),
            COUNT,
            qualifier_doc="the AssumeRole* event name",
        ),
        EdgeType(
            RUNS_SESSION,
            "An EC2 instance obtained role-session credentials (instance profile).",
            frozenset({INSTANCE}),
            frozenset({SESSION}),
            COUNT,
        ),
        EdgeType(
            BELONGS_TO,
            "An entity belongs to an AWS account.",
            frozenset(
                {USER, ROLE, SESSION, FEDERATED, INSTANCE, ENI, BUCKET, FINDING, EKS_CLUSTER}
            ),
            frozenset({ACCOUNT}),
            COUNT,
        ),
        EdgeType(
            LAUNCHED,
            "A principal launched an EC2 instance (RunInstances).",
            LEAF_PRINCIPALS,
            frozenset({INSTANCE}),
            COUNT,
        ),
        EdgeType(
            HAS_INTERFACE,
            "An EC2 instance had a network interface attached.",
            frozenset({INSTANCE}),
            frozenset({ENI}),
            COUNT,
        ),
        EdgeType(
            LOCATED_IN,
            "An IP address geolocates to a place (counted per event seen from the IP).",
            frozenset({IP}),
            frozenset({GEO}),
            COUNT,
        ),
        EdgeType(
            ANNOUNCED_BY,
            "An IP address belongs to an autonomous system (counted per event).",
            frozenset({IP}),
            frozenset({ASO}),
            COUNT,
        ),
        EdgeType(
            FLOW,
            "VPC flow traffic between an instance or interface and a remote IP.",
            frozenset({INSTANCE, ENI}),
            frozenset({IP}),
            ("bytes_in", "bytes_out", "packets_in", "packets_out"),
            qualifier_doc="<protocol>/<local port>/<remote port>/<direction>/<action>",
        ),
        EdgeType(
            INVOLVES,
            "A finding involves an entity.",
            frozenset({FINDING}),
            frozenset(VERTEX_TYPES) - {FINDING, FINDING_GROUP, API, GEO},
            COUNT,
            qualifier_doc="the entity's role: GuardDuty's resourceRole ('target', 'actor') for "
            "the affected resource and its principal, 'remote' for remote IP addresses",
        ),
        EdgeType(
            IN_GROUP,
            "A finding belongs to a finding group.",
            frozenset({FINDING}),
            frozenset({FINDING_GROUP}),
            COUNT,
        ),
    )
}

MAX_COUNTERS = max(len(et.counters) for et in EDGE_TYPES.values())
# Counters are int64 in every store and saturate at its maximum (sums of many valid values can
# pass it; Python's ints would not stop, SQLite's would turn into floats).
COUNTER_MAX = (1 << 63) - 1


def vertex_type(label: str) -> VertexType:
    try:
        return VERTEX_TYPES[label]
    except KeyError:
        raise ValueError(f"unknown vertex label {label!r}") from None


def edge_type(label: str) -> EdgeType:
    try:
        return EDGE_TYPES[label]
    except KeyError:
        raise ValueError(f"unknown edge label {label!r}") from None


def hour_of(ts: int) -> int:
    """The start of the UTC hour containing `ts` (epoch seconds)."""
    return ts - ts % HOUR
