"""GuardDuty findings: to graph. A finding becomes a Finding vertex, INVOLVES edges to the entities
it involves and BELONGS_TO its account.

- Entities land on the vertices CloudTrail creates: the access key's principal is resolved by
  loaders.identity from a userIdentity built out of accessKeyDetails (same keys, same rollups),
  instance ARNs are spelled as RunInstances spells them, and remote IPs get geolocation and ASO
  exactly as CloudTrail source IPs do (IpAddress + LOCATED_IN + ANNOUNCED_BY, via IpRefs).
- Every record is one observation of the finding: the edges it adds are counted once, in the
  hour of the finding's last observed time. The Finding vertex's first/last observed are
  service.eventFirstSeen/eventLastSeen (else createdAt/updatedAt).
- A finding seen again is updated in place: its changing properties are NEWEST-merged on
  `updated` (graph.model), so the newest version wins whatever order files load in; GuardDuty's
  own `count` is MAX-merged, never summed.
Values that would be guesses (an IAM user's ARN, whose path GuardDuty omits) are left unset:
graph properties are FIRST-merged, so a guess would stick even after CloudTrail knows better.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from graph.batch import DeltaBuffer
from graph.model import (
    ACCOUNT,
    BELONGS_TO,
    BUCKET,
    EKS_CLUSTER,
    ENI,
    FINDING,
    HAS_INTERFACE,
    INSTANCE,
    INVOLVES,
    POD,
    ROLE,
    Scalar,
    VertexRef,
)
from loaders.cloudtrail import RecordError, Skipped
from loaders.geo import default_index
from loaders.graphs import RoutedStaging
from loaders.guardduty import AccessKey, Finding, read_findings, remote_ips, sample_of
from loaders.identity import resolve
from loaders.ip_refs import IpRefs
from loaders.timeparse import parse_time

if TYPE_CHECKING:
    from loaders.cloudtrail_graph import CloudTrailDeltas
    from loaders.objects import ObjectResult
    from loaders.sources import ByteStream, SourceObject

REMOTE = "remote"
_POD_TYPES = frozenset({"pod", "pods"})
# GuardDuty's userType → CloudTrail's userIdentity type (Role has no userIdentity: see _role)
_IDENTITY_TYPES = frozenset({"Root", "IAMUser", "AssumedRole", "FederatedUser"})
# principal properties a finding may write: those its key determines (see _principal)
_KEY_PROPS = {"Root": ("name", "arn", "account")}


def stage_finding_file(
    res: ObjectResult,
    obj: SourceObject,
    deltas: CloudTrailDeltas,
    stream: ByteStream,
) -> None:
    """Stage every record of one findings file into `deltas`; fill res.records/loaded/skipped,
    res.errors ("<where>: <message>" per bad record), res.first_account/first_region.
    Raise loaders.cloudtrail.FileError when the file as a whole is unusable."""
    findings: list[tuple[str, Finding]] = []
    for item in read_findings(stream):  # a FileError leaves nothing staged
        res.records += 1
        if isinstance(item, RecordError):
            res.errors.append(f"{item.where}: {item.message}")
        elif isinstance(item, Skipped):
            res.skipped += 1
        else:
            findings.append(item)
    # one vectorized geolocation lookup per file, as CloudTrail does per flush
    ips = IpRefs(default_index(), {ip for _, f in findings for ip in remote_ips(f.service)})
    if isinstance(deltas, RoutedStaging):
        _stage_routed(res, deltas, findings, ips)
        return
    for where, finding in findings:
        try:
            stage_finding(deltas.direct, finding, ips)
        except ValueError as e:
            res.errors.append(f"{where}: {e}")
            continue
        res.loaded += 1
        if res.first_account is None:
            res.first_account, res.first_region = finding.accountId, finding.region
    deltas.events += res.loaded  # the pipeline's flush policy counts staged records


def _stage_routed(
    res: ObjectResult, staging: RoutedStaging, findings: list[tuple[str, Finding]], ips: IpRefs
) -> None:
    """Membership routing: each finding into the part of the batch for the graphs that take its
    AccountId; a finding no graph takes is checked all the same, then counted as skipped."""
    for where, finding in findings:
        account = finding.accountId or None
        targets = staging.targets_of(account)
        part = staging.part(targets) if targets else None
        try:
            stage_finding(part.direct if part is not None else DeltaBuffer(), finding, ips)
        except ValueError as e:
            res.errors.append(f"{where}: {e}")
            continue
        staging.counted(account, 1, targets)
        if res.first_account is None:
            res.first_account, res.first_region = finding.accountId, finding.region
        if part is None:
            res.skipped += 1
            continue
        part.events += 1  # the pipeline's flush policy counts staged records
        res.loaded += 1


def stage_finding(d: DeltaBuffer, f: Finding, ips: IpRefs) -> None:
    """Stage one finding (required fields already checked by loaders.guardduty). Raises
    ValueError, before staging anything, when a timestamp is unreadable."""
    if not (f.id and f.accountId and f.createdAt and f.updatedAt and f.type):
        raise ValueError("missing required field (not checked by loaders.guardduty)")
    created, updated = parse_time(f.createdAt), parse_time(f.updatedAt)
    svc = f.service
    first = _time(svc.eventFirstSeen if svc else None, "service.eventFirstSeen") or created
    last = _time(svc.eventLastSeen if svc else None, "service.eventLastSeen") or updated
    first, last = min(first, last), max(first, last)
    finding = VertexRef(FINDING, f.id)
    props: dict[str, Scalar] = {
        "arn": f.arn or None,
        "type": f.type,
        "severity": float(f.severity) if f.severity is not None else None,
        "title": f.title or None,
        "description": f.description or None,
        "account": f.accountId,
        "region": f.region or None,
        "created": created,
        "updated": updated,
        "count": svc.count if svc else None,
        "archived": svc.archived if svc else None,
        "sample": sample_of(svc),
    }
    d.vertex(finding, first, last, props)
    at = last  # edges are counted in the hour of the finding's last observation
    d.edge(BELONGS_TO, finding, VertexRef(ACCOUNT, f.accountId), at, (1,))
    role = (svc.resourceRole if svc and svc.resourceRole else "resource").lower()
    involved: dict[tuple[VertexRef, str], None] = {}  # ordered and without repeats
    for ref in _resource_entities(d, f, at):
        involved[(ref, role)] = None
    for raw in remote_ips(svc):
        ip = ips.ref(raw)
        if ip is not None and (ip, REMOTE) not in involved:
            involved[(ip, REMOTE)] = None
            ips.relations(d, ip.key, 1, at, at)
    for ref, qualifier in involved:
        d.edge(INVOLVES, finding, ref, at, (1,), qualifier)


def _resource_entities(d: DeltaBuffer, f: Finding, at: int) -> list[VertexRef]:
    """Stage the finding's resource entities with their own relationships; return them."""
    res = f.resource
    if res is None:
        return []
    account = f.accountId or ""
    partition = f.partition or "aws"
    out = (
        _principal(d, res.accessKeyDetails, account, partition, at) if res.accessKeyDetails else []
    )
    inst = res.instanceDetails
    if inst and inst.instanceId:
        out += _instance(d, f, at)
    for bucket in res.s3BucketDetails:
        if bucket.name:
            ref = VertexRef(BUCKET, bucket.name)
            d.vertex(ref, at, at, {"arn": bucket.arn or f"arn:{partition}:s3:::{bucket.name}"})
            out.append(ref)
    eks = res.eksClusterDetails
    if eks and (eks.arn or (eks.name and f.region)):
        arn = eks.arn or f"arn:{partition}:eks:{f.region}:{account}:cluster/{eks.name}"
        name = eks.name or arn.rsplit("/", 1)[-1]
        cluster = VertexRef(EKS_CLUSTER, arn)
        d.vertex(
            cluster, at, at, {"name": name, "arn": arn, "account": account, "region": f.region}
        )
        d.edge(BELONGS_TO, cluster, VertexRef(ACCOUNT, account), at, (1,))
        out.append(cluster)
        k8s = res.kubernetesDetails
        work = k8s.kubernetesWorkloadDetails if k8s else None
        if work and work.name and (work.type or "").lower() in _POD_TYPES:
            namespace = work.namespace or "default"
            pod = VertexRef(POD, f"{arn}/{namespace}/{work.name}")
            d.vertex(pod, at, at, {"name": work.name, "namespace": namespace, "account": account})
            out.append(pod)
    return out


def _principal(
    d: DeltaBuffer, key: AccessKey, account: str, partition: str, at: int
) -> list[VertexRef]:
    """The access key's principal and its rollups (a session's role, an instance-profile
    session's instance), keyed exactly as loaders.identity keys CloudTrail's userIdentity."""
    kind, pid, name = key.userType, key.principalId or None, key.userName or None
    if kind == "Role":
        return _role(d, pid, name, account, at)
    if kind not in _IDENTITY_TYPES:
        return []
    identity: dict[str, str | None] = {"type": kind, "principalId": pid, "accountId": account}
    identity["userName"] = name
    if kind == "Root":
        identity["arn"] = f"arn:{partition}:iam::{account}:root"
    elif kind == "AssumedRole" and pid and ":" in pid and name:
        # a session ARN has no path, so this is the ARN CloudTrail records (userName = role)
        session = pid.split(":", 1)[1]
        identity["arn"] = f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}"
    elif kind == "FederatedUser" and name:
        identity["arn"] = f"arn:{partition}:sts::{account}:federated-user/{name}"
    p = resolve(msgspec.json.encode(identity), account)
    for ref, props in p.vertices:
        # Only what the key itself determines: names and accounts are FIRST-merged, and staged
        # findings are written before a batch's CloudTrail principals, so a finding that
        # disagreed with CloudTrail (public samples reuse AWS's example ids) would make the
        # stored name depend on batch boundaries. CloudTrail names the principal.
        d.vertex(ref, at, at, {k: v for k, v in props.items() if k in _KEY_PROPS.get(kind, ())})
    for label, src, dst in p.relations:
        d.edge(label, src, dst, at, (1,))
    return [ref for ref in p.targets if ref.label != ACCOUNT]


def _role(
    d: DeltaBuffer, pid: str | None, name: str | None, account: str, at: int
) -> list[VertexRef]:
    if not pid or ":" in pid:
        return []
    role = VertexRef(ROLE, pid)
    d.vertex(role, at, at, {"name": name, "account": account})
    d.edge(BELONGS_TO, role, VertexRef(ACCOUNT, account), at, (1,))
    return [role]


def _instance(d: DeltaBuffer, f: Finding, at: int) -> list[VertexRef]:
    inst = f.resource.instanceDetails if f.resource else None
    if inst is None or not inst.instanceId:
        return []
    account, region = f.accountId or "", f.region or None
    nics = [n for n in inst.networkInterfaces if n.networkInterfaceId]
    ref = VertexRef(INSTANCE, inst.instanceId)
    arn = (
        f"arn:{f.partition or 'aws'}:ec2:{region}:{account}:instance/{inst.instanceId}"
        if region
        else None
    )
    d.vertex(
        ref,
        at,
        at,
        {
            "arn": arn,
            "account": account,
            "region": region,
            "instance_type": inst.instanceType or None,
            "image_id": inst.imageId or None,
            "vpc_id": (nics[0].vpcId or None) if nics else None,
            "subnet_id": (nics[0].subnetId or None) if nics else None,
        },
    )
    d.edge(BELONGS_TO, ref, VertexRef(ACCOUNT, account), at, (1,))
    out = [ref]
    for nic in nics:
        eni = VertexRef(ENI, nic.networkInterfaceId or "")
        props = {"account": account, "vpc_id": nic.vpcId or None, "region": region}
        d.vertex(eni, at, at, {**props, "subnet_id": nic.subnetId or None})
        d.edge(HAS_INTERFACE, ref, eni, at, (1,))
        out.append(eni)
    return out


def _time(value: str | None, field: str) -> int | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError as e:
        raise ValueError(f"{field}: {e}") from None
