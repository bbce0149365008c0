"""VPC flow groups → staged flows → graph rows: direction, qualifier and rollup keys with array
operations, then a batch's flows as FLOW edge columns (`expand_flows`).

A file's aggregates (`Groups`: from the columnar path and from the per-record path alike) each
get their direction, remote address and qualifier as arrays, and the file's flows go to the batch
as arrays too (`CloudTrailDeltas.flows`, loaders/vpcflow_batch.py), in any order: the batch sums
and sorts them by key. Python touches each of a file's interfaces once per hour, and qualifier
texts are made once per batch (`qualifier_texts`).
Interfaces are staged in first-seen order (by the least position of their entries), the order
the per-record loader always staged in: their properties keep their first value (Merge.FIRST),
so that order is part of the graph.

See loaders/vpcflow_graph.py for the graph shape and how direction is inferred.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from itertools import compress
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from graph.edge_rows import EdgeRows
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
from loaders.collector import collector_paused
from loaders.vpcflow_batch import COLUMNS, FlowPart, FlowTable, by_key, current_vocabs, first_seen
from loaders.vpcflow_columns import Bools, Groups
from loaders.vpcflow_fields import I64, INFERRED, INGRESS, KEY_FIELDS, VOCABS, Value

if TYPE_CHECKING:
    from graph.batch import DeltaBuffer
    from loaders.cloudtrail_graph import CloudTrailDeltas

(_ENI, _SRC, _DST, _SPORT, _DPORT, _PROTO, _ACTION, _ACCOUNT, _INSTANCE, _VPC, _SUBNET, _REGION,
 _DIRECTION) = range(len(KEY_FIELDS))  # fmt: skip
_PORTS, _PROTOCOLS, _ACTIONS = (VOCABS[f].values for f in ("srcport", "protocol", "action"))
# the texts of each part of a qualifier, by id (all fixed), for arrow to join
_PARTS = tuple(
    pa.array(texts, pa.string())
    for texts in (_PROTOCOLS, _PORTS, _PORTS, ["egress", "ingress"], _ACTIONS)
)


def stage(
    g: Groups, deltas: CloudTrailDeltas, account_hint: str | None, region_hint: str | None
) -> tuple[str | None, str | None]:
    """Merge a file's groups into `deltas` (flows, and interfaces into `deltas.direct`);
    returns the account and region of the first record (else the hints)."""
    # (entries in any order: the batch sorts flows by key, and interfaces are put in first-seen
    # order by their least position in the file)
    ids, hour, n, first, last = g.ids, g.hour, g.n, g.first, g.last
    ingress = _ingress(ids, n)
    remote = np.where(ingress, ids[:, _SRC], ids[:, _DST])
    sport, dport = ids[:, _SPORT], ids[:, _DPORT]
    local_port, remote_port = np.where(ingress, dport, sport), np.where(ingress, sport, dport)
    qualifier = _qualifier_codes(ids[:, _PROTO], local_port, remote_port, ingress, ids[:, _ACTION])
    # one entry per group of the file: entries of one flow key (differing only in account,
    # VPC, ... or raw spelling) are rare within a file, and the batch sums every flow key's
    # entries anyway (loaders/vpcflow_batch.py), so they are not folded here
    packets, nbytes = g.packets, g.nbytes
    zero = np.zeros_like(nbytes)
    table = np.empty((len(g), len(COLUMNS)), dtype=nbytes.dtype)
    table[:, 0] = np.where(ingress, nbytes, zero)
    table[:, 1] = np.where(ingress, zero, nbytes)
    table[:, 2] = np.where(ingress, packets, zero)
    table[:, 3] = np.where(ingress, zero, packets)
    table[:, 4], table[:, 5], table[:, 6] = n, first, last
    # (columns copied out: views would keep the file's whole id table alive in the batch)
    eni, instance = ids[:, _ENI].copy(), ids[:, _INSTANCE].copy()
    deltas.flows.add(FlowPart(eni, instance, hour, remote, qualifier, table, current_vocabs()))
    return _stage_interfaces(deltas.direct, g, account_hint, region_hint)


def values_of(field: str, ids: I64) -> list[Value]:
    return list(map(VOCABS[field].values.__getitem__, ids.tolist()))


def _ingress(ids: I64, n: I64) -> Bools:
    """Whether each entry is traffic into its interface: `flow-direction` when the record has
    it, else the interface's address is the endpoint seen in more of the interface's records
    (of this file), ties going to the private address, then to the destination."""
    direction = ids[:, _DIRECTION]
    inferred = direction == INFERRED
    ingress: Bools = direction == INGRESS
    if not inferred.any():
        return ingress
    # only the inferred entries: each one's (interface, address) pairs are among `pairs`
    rows = np.flatnonzero(inferred)
    eni, src, dst = ids[rows, _ENI], ids[rows, _SRC], ids[rows, _DST]
    width = len(VOCABS["srcaddr"].values)
    pairs = np.concatenate((eni * width + src, eni * width + dst))
    _known, which = np.unique(pairs, return_inverse=True)
    which = which.reshape(-1)
    weight = n[rows]
    seen = np.bincount(which, weights=np.concatenate((weight, weight))).astype(np.int64)
    in_src, in_dst = seen[which[: len(rows)]], seen[which[len(rows) :]]
    dst_local = in_dst > in_src
    tie = np.flatnonzero(in_src == in_dst)
    if len(tie):
        addresses = VOCABS["srcaddr"].values
        src_private = np.array([_private(addresses[i]) for i in src[tie].tolist()], dtype=bool)
        dst_private = np.array([_private(addresses[i]) for i in dst[tie].tolist()], dtype=bool)
        dst_local[tie] = dst_private | ~src_private
    ingress[rows] = dst_local
    return ingress


# VPC address space: RFC 1918, shared (CGNAT) and IPv6 unique local. (Not ipaddress's
# is_private: it also counts documentation ranges, which are remote peers in test data.)
_VPC_SPACE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                      "100.64.0.0/10", "fc00::/7")
)  # fmt: skip


@lru_cache(maxsize=65536)
def _private(address: str | None) -> bool:
    addr = ipaddress.ip_address(address or "")
    return any(addr.version == net.version and addr in net for net in _VPC_SPACE)


def _qualifier_codes(proto: I64, local: I64, remote: I64, ingress: Bools, action: I64) -> I64:
    """One number per (protocol, local port, remote port, direction, action): all fixed ids."""
    code: I64 = (((proto * 65537 + local) * 65537 + remote) * 2 + ingress) * 3 + action
    return code


def qualifier_texts(codes: I64) -> list[str]:
    """`<protocol>/<local port>/<remote port>/<direction>/<action>` of qualifier codes, joined
    by arrow (most are new: fresh ephemeral ports; a cache of texts cost more than it saved)."""
    code, action = np.divmod(codes, 3)
    code, ingress = np.divmod(code, 2)
    code, remote = np.divmod(code, 65537)
    proto, local = np.divmod(code, 65537)
    parts = zip(_PARTS, (proto, local, remote, ingress, action), strict=True)
    joined = pc.binary_join_element_wise(*(t.take(i) for t, i in parts), "/")
    texts: list[str] = joined.to_numpy(zero_copy_only=False).tolist()
    return texts


def _stage_interfaces(
    d: DeltaBuffer, g: Groups, account_hint: str | None, region_hint: str | None
) -> tuple[str | None, str | None]:
    """The interfaces, their instances and accounts, once per (interface context, hour), in
    first-seen order (of the least position of their entries in the file)."""
    ids, hour, n, first, last = g.ids, g.hour, g.n, g.first, g.last
    accounts, regions = VOCABS["account-id"], VOCABS["region"]
    account = ids[:, _ACCOUNT]
    account = np.where(account == accounts.id(None), accounts.id(account_hint), account)
    region = ids[:, _REGION]
    region = np.where(region == regions.id(None), regions.id(region_hint), region)
    columns = [ids[:, _ENI], ids[:, _INSTANCE], account, ids[:, _VPC], ids[:, _SUBNET], region]
    groups = first_seen([*columns, hour], g.seq)
    totals = groups.reduce(np.add, n)
    firsts = groups.reduce(np.minimum, first)
    lasts = groups.reduce(np.maximum, last)
    values = [
        values_of(field, col[groups.first])
        for field, col in zip(
            ("interface-id", "instance-id", "account-id", "vpc-id", "subnet-id", "region"),
            columns,
            strict=True,
        )
    ]
    rows = zip(*values, totals.tolist(), firsts.tolist(), lasts.tolist(), strict=True)
    result: tuple[str | None, str | None] | None = None
    for eni, instance, acct, vpc, subnet, reg, count, start, end in rows:
        _stage_interface(d, eni, instance, acct, vpc, subnet, reg, count, start, end)
        if result is None:
            result = acct, reg
    return result or (account_hint, region_hint)


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
    # (d.count, not d.edge: each endpoint's observation is recorded once, here)
    d.vertex(nic, first, last, props)
    acct = VertexRef(ACCOUNT, account) if account else None
    if acct is not None:
        d.vertex(acct, first, last)
        d.count(BELONGS_TO, nic, acct, "", first, last, (n,))
    if instance is None:
        return
    inst = VertexRef(INSTANCE, instance)
    arn = f"arn:aws:ec2:{region}:{account}:instance/{instance}" if region and account else None
    d.vertex(inst, first, last, {**props, "arn": arn})
    d.count(HAS_INTERFACE, inst, nic, "", first, last, (n,))
    if acct is not None:
        d.count(BELONGS_TO, inst, acct, "", first, last, (n,))


def expand_flows(
    table: FlowTable,
    out: DeltaBuffer,
    ip_hours: dict[tuple[str, int], list[int]],
) -> None:
    """Write a batch's staged flows into `out` as columns (graph.edge_rows.EdgeRows): FLOW for
    the interface and, when known, its instance. Remote addresses are bumped into `ip_hours`
    for their IpAddress vertex and geolocation."""
    flows = table.merged()
    if flows is None:
        return
    # (required fields: never None)
    eni: list[Any] = values_of("interface-id", flows.eni)
    remote: list[Any] = values_of("srcaddr", flows.remote)
    qualifier = qualifier_texts(flows.qualifier)
    hour = flows.hour.tolist()
    columns = flows.table.T  # (the records column is not written)
    bytes_in, bytes_out, packets_in, packets_out = columns[:4].tolist()
    first, last = columns[5:].tolist()
    counts = (bytes_in, bytes_out, packets_in, packets_out)
    out.add_rows(EdgeRows(FLOW, ENI, IP, eni, remote, qualifier, hour, first, last, counts))
    known = flows.instance != VOCABS["instance-id"].id(None)
    if known.any():
        keep = known.tolist()

        def kept(column: list[Any]) -> list[Any]:
            return list(compress(column, keep))

        instance: list[Any] = values_of("instance-id", flows.instance[known])
        out.add_rows(
            EdgeRows(
                FLOW, INSTANCE, IP, instance,
                kept(remote), kept(qualifier), kept(hour), kept(first), kept(last),
                tuple(kept(c) for c in counts),
            )
        )  # fmt: skip
    # one bump per (remote address, hour), in address id order: new IpAddress vertices then
    # get ids in the order the flows name them (sorted by address id within an interface), and
    # the store inserts each flow edge next to the one before in the (src, label, dst, ...) index
    bumps = by_key([flows.remote, flows.hour])
    n, start, end = (
        bumps.reduce(reduce, flows.table[:, column]).tolist()
        for column, reduce in ((4, np.add), (5, np.minimum), (6, np.maximum))
    )
    addresses: list[Any] = values_of("srcaddr", flows.remote[bumps.first])
    with collector_paused():
        for address, h, k, lo, hi in zip(
            addresses, flows.hour[bumps.first].tolist(), n, start, end, strict=True
        ):
            acc = ip_hours.get((address, h))
            if acc is None:
                ip_hours[(address, h)] = [k, lo, hi]
            else:
                acc[0] += k
                if lo < acc[1]:
                    acc[1] = lo
                if hi > acc[2]:
                    acc[2] = hi
