"""VPC Flow Logs: to graph. Records become hourly FLOW deltas, aggregated before any write.

A file is aggregated on its own first, per distinct raw (fields, hour) tuple with one dict
operation per record; fields are validated once per distinct tuple, and only a file that parsed
to its end is merged into the batch (`CloudTrailDeltas.flows`), so a corrupt tail stages nothing.

Graph shape (see graph/model.py):
- FLOW NetworkInterface → remote IpAddress, counted per hour with bytes_in, bytes_out,
  packets_in, packets_out; qualifier `<protocol>/<local port>/<remote port>/<direction>/<action>`
  ("-" for a field the format lacks or AWS left empty); first/last observed = start/end.
- The same FLOW edge for the Ec2Instance (a rollup) when the record names it (`instance-id`,
  v3+), with HAS_INTERFACE instance → interface; interface and instance BELONGS_TO `account-id`.
- ENI → instance mappings that only CloudTrail knows (RunInstances, CreateNetworkInterface,
  AttachNetworkInterface) stay HAS_INTERFACE edges and are *not* used to write rollups at load
  time: what a lookup finds depends on which files were loaded before and on batch boundaries,
  and a load killed and run again must end with the graph an uninterrupted load writes. Readers
  get an instance's traffic as the FLOW edges of its interfaces (HAS_INTERFACE in the hour);
  the instance's own FLOW edges are the in-file subset of that, never to be added to it.

Direction (`ingress` = packets into the interface, counted as *_in): `flow-direction` (v5) when
present. Otherwise the interface's own address decides: among a file's records of an interface
the interface's address is in every record, a peer only in some, so the endpoint seen in more
of the interface's records is local. Ties (every record between the same two hosts) go to the
private address (interfaces carry VPC addresses; NAT hides the public one), then to the
destination. The decision is per unordered address pair, so a connection's two halves agree.
"""

from __future__ import annotations

import gc
import ipaddress
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from graph.model import (
    ACCOUNT,
    BELONGS_TO,
    ENI,
    FLOW,
    HAS_INTERFACE,
    INSTANCE,
    IP,
    Scalar,
    VertexRef,
)
from loaders.cloudtrail import RecordError
from loaders.vpcflow import Chunk, FlowFormat, read_flows, region_of
from loaders.vpcflow_fields import KEY_FIELDS, FlowKey, decode, key_cache, number_problem, problem

if TYPE_CHECKING:
    from graph.batch import DeltaBuffer
    from loaders.cloudtrail_graph import CloudTrailDeltas
    from loaders.objects import ObjectResult
    from loaders.sources import ByteStream, SourceObject

_SKIP_STATUS = frozenset({b"NODATA", b"SKIPDATA"})


class _Plan:
    """How records of one format are cut: field positions and the key getter."""

    def __init__(self, fmt: FlowFormat, region: str | None) -> None:
        self.width = len(fmt.fields)
        idx = fmt.fields.index  # parse_format made sure of the required fields
        self.start, self.packets, self.bytes = idx("start"), idx("packets"), idx("bytes")
        end = fmt.index("end")
        self.end = self.start if end is None else end
        self.status = fmt.index("log-status")
        self.numbers = (
            ("start", self.start),
            ("end", self.end),
            ("packets", self.packets),
            ("bytes", self.bytes),
        )
        self.src, self.dst = fmt.fields.index("srcaddr"), fmt.fields.index("dstaddr")
        self.names = [f for f in KEY_FIELDS if f in fmt.fields]
        self.key = itemgetter(*(fmt.fields.index(f) for f in self.names))
        self.region = region
        # raw → key, or the error message: shared by every file of the same format, since
        # interfaces and peers recur from one 5-minute file to the next
        self.keys = key_cache(tuple(self.names), region)
        self.agg: dict[tuple[tuple[bytes, ...], int], list[int]] = {}


class FileFlows:
    """One file's records, aggregated; `commit` hands them to the batch."""

    def __init__(self, where: str) -> None:
        self.plans: dict[tuple[FlowFormat, str | None], _Plan] = {}
        self.records = self.loaded = self.skipped = 0
        self.errors: list[str] = []
        self.where = where

    def add(self, chunk: Chunk) -> None:
        """Aggregate a chunk's records: the loader's hot loop, kept free of calls per record."""
        plan = self.plans.get((chunk.fmt, chunk.region))
        if plan is None:
            plan = self.plans[(chunk.fmt, chunk.region)] = _Plan(chunk.fmt, chunk.region)
        width, status, keyof, agg, keys = plan.width, plan.status, plan.key, plan.agg, plan.keys
        i_start, i_end, i_packets, i_bytes = plan.start, plan.end, plan.packets, plan.bytes
        records = loaded = skipped = 0
        i = -1
        for i, f in enumerate(chunk.rows):
            if len(f) != width:
                if not f:
                    continue  # a blank line
                records += 1
                self._error(chunk, i, f"expected {width} fields, found {len(f)}")
                continue
            records += 1
            if status is not None and f[status] != b"OK" and f[status] != b"-":
                if f[status] in _SKIP_STATUS:
                    skipped += 1  # no traffic in the window, or records AWS had to drop
                else:
                    self._error(
                        chunk, i, problem("log-status", "not OK, NODATA or SKIPDATA", f[status])
                    )
                continue
            try:
                start, end = int(f[i_start]), int(f[i_end])
                packets, nbytes = int(f[i_packets]), int(f[i_bytes])
            except ValueError:
                if status is None and f[plan.src] == f[plan.dst] == b"-":
                    skipped += 1  # NODATA/SKIPDATA of a format without log-status
                else:
                    self._error(chunk, i, number_problem(plan.numbers, f))
                continue
            if start < 0 or end < start or packets < 0 or nbytes < 0:
                self._error(chunk, i, number_problem(plan.numbers, f))
                continue
            raw = keyof(f)
            hour = start - start % 3600
            acc = agg.get((raw, hour))
            if acc is None:
                key = keys.get(raw)
                if key is None:
                    key = keys[raw] = decode(plan.names, raw, plan.region)
                if type(key) is str:
                    self._error(chunk, i, key)
                    continue
                agg[(raw, hour)] = [packets, nbytes, 1, start, end]
            else:
                acc[0] += packets
                acc[1] += nbytes
                acc[2] += 1
                if start < acc[3]:
                    acc[3] = start
                if end > acc[4]:
                    acc[4] = end
            loaded += 1
        self.records += records
        self.loaded += loaded
        self.skipped += skipped

    def _error(self, chunk: Chunk, i: int, message: str) -> None:
        self.errors.append(f"{chunk.where(i)}: {message}")

    def commit(self, deltas: CloudTrailDeltas, obj: SourceObject) -> tuple[str | None, str | None]:
        """Merge the file into `deltas` (only once it has parsed to its end); returns the first
        record's account and region."""
        # how many of each interface's records each address is in (direction inference)
        seen: dict[tuple[str, str], int] = {}
        for plan in self.plans.values():
            for (raw, _hour), acc in plan.agg.items():
                k = plan.keys[raw]
                if isinstance(k, FlowKey) and k.direction is None:
                    seen[(k.eni, k.src)] = seen.get((k.eni, k.src), 0) + acc[2]
                    seen[(k.eni, k.dst)] = seen.get((k.eni, k.dst), 0) + acc[2]
        flows = deltas.flows
        # (interface, instance, account, vpc, subnet, region, hour) -> [records, first, last]
        nics: dict[tuple[str | None, ...], list[int]] = {}
        account_hint, region_hint = obj.account_hint, region_of(obj.uri)
        for plan in self.plans.values():
            for (raw, hour), (packets, nbytes, n, first, last) in plan.agg.items():
                k = plan.keys[raw]
                assert isinstance(k, FlowKey)  # bad keys never get an aggregate
                ingress = k.direction == "ingress" if k.direction else _dst_is_local(k, seen)
                if ingress:
                    remote, counts = k.src, (nbytes, 0, packets, 0)
                    q = f"{k.proto}/{k.dport}/{k.sport}/ingress/{k.action}"
                else:
                    remote, counts = k.dst, (0, nbytes, 0, packets)
                    q = f"{k.proto}/{k.sport}/{k.dport}/egress/{k.action}"
                key = (k.eni, k.instance, hour, remote, q)
                row = flows.get(key)
                if row is None:
                    flows[key] = [*counts, n, first, last]
                else:
                    for pos in range(4):
                        row[pos] += counts[pos]
                    row[4] += n
                    row[5] = min(row[5], first)
                    row[6] = max(row[6], last)
                account = k.account or account_hint
                nic = (k.eni, k.instance, account, k.vpc, k.subnet, k.region or region_hint)
                span = nics.get((*nic, str(hour)))
                if span is None:
                    nics[(*nic, str(hour))] = [n, first, last]
                else:
                    span[0] += n
                    span[1] = min(span[1], first)
                    span[2] = max(span[2], last)
        for (eni, instance, account, vpc, subnet, region, _h), (n, first, last) in nics.items():
            _stage_interface(
                deltas.direct, eni, instance, account, vpc, subnet, region, n, first, last
            )
        deltas.events += self.loaded
        for _eni, _i, account, _v, _s, region, _h in nics:
            return account, region
        return account_hint, region_hint


def _stage_interface(
    d: DeltaBuffer,
    eni: str | None,
    instance: str | None,
    account: str | None,
    vpc: str | None,
    subnet: str | None,
    region: str | None,
    n: int,
    first: int,
    last: int,
) -> None:
    """The interface, its instance and account, once per (interface context, hour)."""
    nic = VertexRef(ENI, eni or "")
    props: dict[str, Scalar] = {
        "account": account,
        "vpc_id": vpc,
        "subnet_id": subnet,
        "region": region,
    }
    d.vertex(nic, first, last, props)
    acct = VertexRef(ACCOUNT, account) if account else None
    if acct is not None:
        d.edge(BELONGS_TO, nic, acct, first, (n,), last=last)
    if instance is None:
        return
    inst = VertexRef(INSTANCE, instance)
    arn = f"arn:aws:ec2:{region}:{account}:instance/{instance}" if region and account else None
    d.vertex(inst, first, last, {**props, "arn": arn})
    d.edge(HAS_INTERFACE, inst, nic, first, (n,), last=last)
    if acct is not None:
        d.edge(BELONGS_TO, inst, acct, first, (n,), last=last)


def _dst_is_local(k: FlowKey, seen: dict[tuple[str, str], int]) -> bool:
    """Whether the record's destination is the interface (see the module docstring)."""
    in_src, in_dst = seen[(k.eni, k.src)], seen[(k.eni, k.dst)]
    if in_src != in_dst:
        return in_dst > in_src
    src_private, dst_private = _private(k.src), _private(k.dst)
    return dst_private or not src_private


# VPC address space: RFC 1918, shared (CGNAT) and IPv6 unique local. (Not ipaddress's
# is_private: it also counts documentation ranges, which are remote peers in test data.)
_VPC_SPACE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                      "100.64.0.0/10", "fc00::/7")
)  # fmt: skip


def _private(address: str) -> bool:
    addr = ipaddress.ip_address(address)
    return any(addr.version == net.version and addr in net for net in _VPC_SPACE)


def expand_flows(
    flows: dict[tuple[Any, ...], list[int]],
    out: DeltaBuffer,
    ip_hours: dict[tuple[str, int], list[int]],
) -> None:
    """Write staged flows into `out`: FLOW for the interface and, when known, its instance.
    Remote addresses are bumped into `ip_hours` for their IpAddress vertex and geolocation."""
    refs: dict[str, VertexRef] = {}
    count = out.count
    for (eni, instance, hour, remote, q), (bi, bo, pi, po, n, first, last) in flows.items():
        ip = refs.get(remote)
        if ip is None:
            ip = refs[remote] = VertexRef(IP, remote)
        counts = (bi, bo, pi, po)
        count(FLOW, VertexRef(ENI, eni), ip, q, first, last, counts)
        if instance is not None:
            count(FLOW, VertexRef(INSTANCE, instance), ip, q, first, last, counts)
        acc = ip_hours.get((remote, hour))
        if acc is None:
            ip_hours[(remote, hour)] = [n, first, last]
        else:
            acc[0] += n
            acc[1] = min(acc[1], first)
            acc[2] = max(acc[2], last)


def stage_flow_file(
    res: ObjectResult,
    obj: SourceObject,
    deltas: CloudTrailDeltas,
    stream: ByteStream,
    flow_format: str | None,
) -> None:
    """Stage every record of one flow file into `deltas`; fill res.records/loaded/skipped,
    res.errors ("<where>: <message>" per bad record), res.first_account/first_region.
    Raise loaders.cloudtrail.FileError when the file as a whole is unusable."""
    flows = FileFlows(obj.uri)
    # The aggregates are many small lists and tuples that live until the file is staged; the
    # cyclic GC would scan them again and again (40% of the time) and they hold no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for item in read_flows(stream, flow_format):
            if type(item) is Chunk:
                flows.add(item)
            elif type(item) is RecordError:
                flows.records += 1
                flows.errors.append(f"{item.where}: {item.message}")
            else:
                flows.records += 1
                flows.skipped += 1
    finally:
        if collecting:
            gc.enable()
    res.records, res.loaded, res.skipped = flows.records, flows.loaded, flows.skipped
    res.errors.extend(flows.errors)
    res.first_account, res.first_region = flows.commit(deltas, obj)
