"""CloudTrail: to graph. Events become hourly-counted deltas without one write per event.

Each event adds 1 to a tuple (principal, hour, API, source IP, user agent, bucket, success);
at flush, each distinct tuple expands into activity edges for the acting principal and its
rollups (role, instance, account), which is where the per-event cost would otherwise be.
Events that describe relationships (AssumeRole*, RunInstances, CreateBucket, ...) add their
edges directly (loaders/cloudtrail_relations.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graph.batch import DeltaBuffer
from graph.model import (
    ACCESSED_BUCKET,
    AGENT,
    API,
    BUCKET,
    CALLED,
    USED_AGENT,
    USED_IP,
    VertexRef,
)
from loaders.cloudtrail import Cursor, Event, Item, RecordError
from loaders.cloudtrail_relations import SPECIAL, decode_body, params_decoder, special
from loaders.geo import GeoIndex
from loaders.identity import Principal, resolve
from loaders.ip_refs import IpRefs
from loaders.timeparse import MINUTE_CACHE, SECOND_TAILS, parse_time
from loaders.vpcflow_batch import FlowTable

if TYPE_CHECKING:
    from loaders._native import Staging

# expand's folds: (principal, hour) and (address, hour) totals [n, first, last], and the first
# and last observed of every edge target ([0, first, last])
Folded = tuple[
    dict[tuple[Principal, int], list[int]],
    dict[tuple[str, int], list[int]],
    dict[VertexRef, list[int]],
]

# Keys are raw userIdentity bytes, one per role session: a bounded cache, sized for memory
# (see graph/sqlite.py's vertex cache) rather than hit rate, which barely changes.
_PRINCIPAL_CACHE_LIMIT = 20_000


class Principals:
    """Resolved principals by raw userIdentity bytes, shared by every object of a load."""

    def __init__(self) -> None:
        self.cache: dict[tuple[bytes, str | None], Principal] = {}

    def get(self, raw: bytes, recipient: str | None) -> Principal:
        key = (raw, recipient)
        p = self.cache.get(key)
        if p is None:
            if len(self.cache) > _PRINCIPAL_CACHE_LIMIT:
                self.cache.clear()
            p = self.cache[key] = resolve(raw, recipient)
            p.key = key
        return p


@dataclass(slots=True)
class Staged:
    """What `CloudTrailDeltas.add_all` did with a file's items."""

    records: int = 0
    loaded: int = 0
    skipped: int = 0
    first_account: str | None = None
    first_region: str | None = None


class CloudTrailDeltas:
    """Staged deltas of one or more source objects (merge a finished object with `absorb`)."""

    def __init__(self, principals: Principals) -> None:
        self.principals = principals
        self.tuples: dict[tuple[Any, ...], list[int]] = {}
        self.direct = DeltaBuffer()
        self.events = 0
        # VPC flows, see loaders/vpcflow_graph.py, as arrays per file (loaders/vpcflow_batch.py)
        self.flows = FlowTable()
        # delivery objects' tuples counted by the native core (loaders/cloudtrail_native.py)
        self.native: Staging | None = None

    def __len__(self) -> int:
        return self.staged_tuples() + self.flows.rows

    def staged_tuples(self) -> int:
        """Staged tuples and other deltas, VPC flows aside."""
        n = len(self.tuples) + len(self.direct)
        return n if self.native is None else n + len(self.native)

    def drain_native(self) -> None:
        """Bring the native core's tuples into `tuples`, after those staged before them."""
        if self.native is not None and len(self.native):
            from loaders.cloudtrail_native import drained

            tuples = drained(self.native, self.principals)
            if self.tuples:
                self._merge(tuples)
            else:  # the usual case: a batch of delivery objects only
                self.tuples = tuples

    def _merge(self, tuples: dict[tuple[Any, ...], list[int]]) -> None:
        mine = self.tuples
        for key, (n, first, last) in tuples.items():
            acc = mine.get(key)
            if acc is None:
                mine[key] = [n, first, last]
            else:
                acc[0] += n
                acc[1] = min(acc[1], first)
                acc[2] = max(acc[2], last)

    def add(self, ev: Event, account_hint: str | None) -> str | None:
        """Stage one event; returns the account it belongs to. Raises ValueError when unusable."""
        errors: list[str] = []
        staged = self.add_all([ev], account_hint, errors)
        if errors:
            raise ValueError(errors[0].split(": ", 1)[1])
        return staged.first_account

    def add_all(
        self,
        items: Iterable[Item],
        account_hint: str | None,
        errors: list[str],
        cursor: Cursor | None = None,
        first: int = 0,
    ) -> Staged:
        """Stage a file's items (events, record errors, skipped records) in one tight loop.

        Unusable events and record errors go to `errors` as "<where>: <message>": the cursor's
        position, or else "record <i>" with i counted from `first` (the index of the first item
        in its file, for a caller handing the items over one at a time)."""
        # the core's tuples of earlier objects go first, as they were staged first (the FIRST
        # properties of a vertex are those of its first staged tuple)
        self.drain_native()
        out = Staged()
        tuples = self.tuples
        principals = self.principals.cache
        principal_of = self.principals.get
        # parse_time's fast path, inlined: this loop runs once per event
        minutes, tails = MINUTE_CACHE, SECOND_TAILS
        records = loaded = skipped = 0
        for ev in items:
            records += 1
            if type(ev) is not Event:
                if type(ev) is RecordError:
                    errors.append(f"{ev.where}: {ev.message}")
                else:
                    skipped += 1
                continue
            try:
                when = ev.eventTime or ev.timestamp or ev.p_event_time or ""
                try:
                    ts = minutes[when[:17]] + tails[when[17:]]
                except KeyError:
                    ts = parse_time(when)
                recipient = ev.recipientAccountId or account_hint
                who = (bytes(ev.userIdentity), recipient)
                p = principals.get(who) or principal_of(*who)
                source, name = ev.eventSource, ev.eventName
                ok = not ev.errorCode
                bucket = None
                if source == "s3.amazonaws.com" and ev.requestParameters:
                    params = decode_body(params_decoder, ev.requestParameters, "requestParameters")
                    bucket = params.bucketName if params else None
                if name in SPECIAL:
                    ok = special(self.direct, ev, p, ts, ok)
                elif ok and bucket and name in ("CreateBucket", "DeleteBucket"):
                    prop = "created" if name == "CreateBucket" else "deleted"
                    self.direct.vertex(VertexRef(BUCKET, bucket), ts, ts, {prop: ts})
            except ValueError as e:
                errors.append(f"{_where(cursor, first + records - 1)}: {e}")
                continue
            key = (p, ts - ts % 3600, source, name, ev.sourceIPAddress, ev.userAgent, bucket, ok)
            acc = tuples.get(key)
            if acc is None:
                tuples[key] = [1, ts, ts]
            else:
                acc[0] += 1
                if ts < acc[1]:
                    acc[1] = ts
                elif ts > acc[2]:
                    acc[2] = ts
            loaded += 1
            if out.first_account is None:
                out.first_account = recipient or p.account
                out.first_region = ev.awsRegion
        self.events += loaded
        out.records, out.loaded, out.skipped = records, loaded, skipped
        return out

    def check(
        self,
        ev: Event,
        account_hint: str | None,
        errors: list[str],
        cursor: Cursor | None = None,
        at: int = 0,
    ) -> bool:
        """Whether `add_all` would stage the event, without staging it: it makes the same checks
        (time, identity, S3 request body, relationship bodies) and records the same error. For
        events no graph takes, which are errors if malformed but otherwise skipped."""
        try:
            when = ev.eventTime or ev.timestamp or ev.p_event_time or ""
            ts = parse_time(when)
            p = self.principals.get(bytes(ev.userIdentity), ev.recipientAccountId or account_hint)
            if ev.eventSource == "s3.amazonaws.com" and ev.requestParameters:
                decode_body(params_decoder, ev.requestParameters, "requestParameters")
            if ev.eventName in SPECIAL:
                special(DeltaBuffer(), ev, p, ts, not ev.errorCode)
        except ValueError as e:
            errors.append(f"{_where(cursor, at)}: {e}")
            return False
        return True

    def absorb(self, other: CloudTrailDeltas) -> None:
        other.drain_native()
        self._merge(other.tuples)
        self.flows.absorb(other.flows)
        self.direct.absorb(other.direct)
        self.events += other.events

    def expand(self, out: DeltaBuffer, geo: GeoIndex) -> None:
        """Write every staged observation into `out` and start empty again.

        Tuples are first folded per relationship and hour (a principal uses few IPs and user
        agents in an hour, so USED_IP and USED_USER_AGENT compress well), then each
        relationship's hours are counted for the principal and every rollup at once: one edge
        look-up per rollup for all its hours (a relationship has about 7 hours in a batch).
        A batch of the native core's tuples only (the usual one) is folded by the core, by the
        same steps in the same order (loaders/native/src/fold.rs).
        """
        out.absorb(self.direct)
        remotes = self.flows.remote_addresses()
        if self.tuples or self.native is None or not len(self.native):
            self.drain_native()
            ips = IpRefs(geo, {key[4] for key in self.tuples if key[4]} | remotes)
            principal_hours, ip_hours, spans = self._fold(out, ips)
        else:
            from loaders.cloudtrail_native import folded

            ips, principal_hours, ip_hours, spans = folded(
                self.native, self.principals, out, lambda raws: IpRefs(geo, raws | remotes)
            )
        seen: set[int] = set()
        for (p, _hour), (n, first, last) in principal_hours.items():
            if id(p) not in seen:
                seen.add(id(p))
                for ref, props in p.vertices:
                    out.vertex(ref, first, last, props)
            for target in p.targets:
                span = spans.get(target)
                if span is None:
                    spans[target] = [0, first, last]
                else:
                    if first < span[1]:
                        span[1] = first
                    if last > span[2]:
                        span[2] = last
            for label, src, dst in p.relations:
                # both ends are among the principal's targets, whose spans are recorded above
                out.count(label, src, dst, "", first, last, (n,))
        if self.flows:
            from loaders.vpcflow_stage import expand_flows

            expand_flows(self.flows, out, ip_hours)
            self.flows.clear()
        ips.write_hours(out, ip_hours)
        for ref, (_n, first, last) in spans.items():
            out.vertex(ref, first, last)
        self.tuples = {}
        self.events = 0

    def _fold(self, out: DeltaBuffer, ips: IpRefs) -> Folded:
        """`expand`'s folds of the Python-staged tuples: their edges go into `out`; returns the
        (principal, hour) and (address, hour) totals and the first/last observed of every
        edge target."""
        # (label, principal, target vertex, qualifier) -> [first, last, {hour: [successes,
        # failures]}]
        rows: dict[tuple[Any, ...], list[Any]] = {}
        principal_hours: dict[tuple[Principal, int], list[int]] = {}
        ip_hours: dict[tuple[str, int], list[int]] = {}
        # first/last observed of every endpoint, gathered once per relationship, not per edge
        spans: dict[VertexRef, list[int]] = {}
        apis: dict[tuple[str, str], VertexRef] = {}
        ip_refs = ips.refs
        agents: dict[str, VertexRef] = {}
        # the folds below are written out instead of calling a helper: this loop runs once per
        # staged tuple and is the loader's hot path
        for (p, hour, source, name, src_ip, agent, bucket, ok), (
            n,
            first,
            last,
        ) in self.tuples.items():
            api = apis.get((source, name))
            if api is None:
                api = apis[(source, name)] = VertexRef(API, f"{source}:{name}")
                out.vertex(api, first, last, {"service": source, "method": name})
            good, bad = (n, 0) if ok else (0, n)
            keys = [(CALLED, p, api, src_ip or "")]
            ip = ip_refs.get(src_ip) if src_ip else None  # ips.ref, inlined
            if ip is not None:
                keys.append((USED_IP, p, ip, ""))
                acc = ip_hours.get((ip.key, hour))
                if acc is None:
                    ip_hours[(ip.key, hour)] = [n, first, last]
                else:
                    acc[0] += n
                    if first < acc[1]:
                        acc[1] = first
                    if last > acc[2]:
                        acc[2] = last
            if agent:
                ua = agents.get(agent)
                if ua is None:
                    ua = agents[agent] = VertexRef(AGENT, agent)
                keys.append((USED_AGENT, p, ua, ""))
            if bucket:
                keys.append((ACCESSED_BUCKET, p, VertexRef(BUCKET, bucket), name))
            for key in keys:
                entry = rows.get(key)
                if entry is None:
                    rows[key] = [first, last, {hour: [good, bad]}]
                    continue
                if first < entry[0]:
                    entry[0] = first
                if last > entry[1]:
                    entry[1] = last
                row = entry[2].get(hour)
                if row is None:
                    entry[2][hour] = [good, bad]
                else:
                    row[0] += good
                    row[1] += bad
            acc = principal_hours.get((p, hour))
            if acc is None:
                principal_hours[(p, hour)] = [n, first, last]
            else:
                acc[0] += n
                if first < acc[1]:
                    acc[1] = first
                if last > acc[2]:
                    acc[2] = last
        count_hours = out.count_hours
        for (label, p, ref, qualifier), (first, last, by_hour) in rows.items():
            count_hours(label, p.targets, ref, qualifier, first, last, by_hour)
            span = spans.get(ref)
            if span is None:
                spans[ref] = [0, first, last]
            else:
                if first < span[1]:
                    span[1] = first
                if last > span[2]:
                    span[2] = last
        return principal_hours, ip_hours, spans


def _where(cursor: Cursor | None, index: int) -> Cursor | str:
    """Where a record error is: the cursor's position, or else the item's index in its file."""
    return cursor if cursor and cursor.where is not None else f"record {index}"
