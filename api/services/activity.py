"""Overall API call volume: hourly successful and failed calls, with Detective's drill-downs.

For a principal the calls are its own CALLED edges (a role's, an instance's and an account's are
the loader's rollups of their sessions and principals). Drill-downs: by API method (with the
source IPs of each), by source IP (with the methods of each) and by caller: a role's sessions, an
instance's instance-profile sessions, an account's users, roles and federated users; a user, a
session or a federated user is its own only caller. An account's callers are the ones Detective
lists ("the users or roles that made the calls"): calls of AWS services (AwsService principals,
one vertex per service shared by every account, with no edge to the accounts it acted in) and
calls without a principal are in the account's totals and by-method and by-source-IP rows, but
no caller row stands for them.

For an IP address, a user agent or an S3 bucket the calls are those of the principals that used
it, counted once per acting principal (never again for their rollups).

The baseline values of the same panel are in api/services/activity_baselines.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from api.services.batching import by_label, neighbours, series, vertices
from api.services.scope import Scope
from baselines.cache import BaselineCache, CacheKey
from baselines.config import DEFAULT_CONFIG
from baselines.volume import ApiCallBaseline, VolumeBucket
from baselines.window import TrainingNotice
from graph.model import (
    ACCESSED_BUCKET,
    ACCOUNT,
    AGENT,
    API,
    ASSUMED_ROLE,
    BELONGS_TO,
    BUCKET,
    CALLED,
    FEDERATED,
    HOUR,
    INSTANCE,
    IP,
    LEAF_PRINCIPALS,
    PRINCIPALS,
    ROLE,
    RUNS_SESSION,
    USED_AGENT,
    USED_IP,
    USER,
    VertexRef,
)
from graph.store import Direction, GraphReads, HourCounts, Neighbour, Vertex, sum_counts

S3 = "s3.amazonaws.com"
# edge from the acting principal to each kind of object entity
OBJECT_EDGES = {IP: USED_IP, AGENT: USED_AGENT, BUCKET: ACCESSED_BUCKET}
ACCOUNT_CALLERS = frozenset({USER, ROLE, FEDERATED})
# rollups whose activity is exactly the sum of their callers' (their sessions')
SUMMED = frozenset({ROLE, INSTANCE})


@dataclass(slots=True)
class Calls:
    success: int = 0
    failed: int = 0
    first: int = 0  # first/last observed of the underlying edges (all time); 0: unknown
    last: int = 0

    def add(self, success: int, failed: int, first: int = 0, last: int = 0) -> None:
        self.success += success
        self.failed += failed
        if first and (not self.first or first < self.first):
            self.first = first
        self.last = max(self.last, last)

    @property
    def total(self) -> int:
        return self.success + self.failed


@dataclass(slots=True)
class HourlyCalls:
    start: int
    success: int
    failed: int


@dataclass(slots=True)
class MethodCalls:
    service: str
    method: str
    calls: Calls = field(default_factory=Calls)
    source_ips: dict[str, Calls] = field(default_factory=dict)


@dataclass(slots=True)
class SourceIpCalls:
    address: str  # sourceIPAddress as CloudTrail recorded it: an address or a service name
    calls: Calls = field(default_factory=Calls)
    methods: dict[tuple[str, str], Calls] = field(default_factory=dict)


@dataclass(slots=True)
class CallerCalls:
    ref: VertexRef
    calls: Calls


@dataclass(frozen=True, slots=True)
class HourlyBaseline:
    """The hourly part of an API call baseline: what the volume panel's buckets show."""

    buckets: tuple[VolumeBucket, ...]
    training: TrainingNotice | None


@dataclass(slots=True)
class ApiCallVolume:
    scope: Scope
    total: Calls
    buckets: list[HourlyCalls]
    by_method: list[MethodCalls]
    by_source_ip: list[SourceIpCalls]
    by_caller: list[CallerCalls]
    # the callers' vertices, read with the panel so that showing them costs no more round trips
    vertices: dict[VertexRef, Vertex] = field(default_factory=dict)


def split_api(key: str) -> tuple[str, str]:
    """(service, method) of an ApiOperation key `<eventSource>:<eventName>`."""
    service, _, method = key.partition(":")
    return service, method


def _rank(calls: Calls, name: str) -> tuple[int, int, str]:
    return (-calls.success, -calls.failed, name)


def _dense(scope: Scope, rows: list[tuple[int, tuple[int, ...]]]) -> list[HourlyCalls]:
    by_hour = dict(rows)
    out = []
    for hour in scope.hours:
        counts = by_hour.get(hour)
        out.append(HourlyCalls(hour, counts[0], counts[1]) if counts else HourlyCalls(hour, 0, 0))
    return out


def _breakdown(rows: list[Neighbour]) -> tuple[list[MethodCalls], list[SourceIpCalls]]:
    """Drill-downs from CALLED edges (other end: the API; qualifier: the source IP)."""
    methods: dict[str, MethodCalls] = {}
    ips: dict[str, SourceIpCalls] = {}
    for n in rows:
        ok, bad = n.counts[0], n.counts[1]
        m = methods.get(n.ref.key)
        if m is None:
            m = methods[n.ref.key] = MethodCalls(*split_api(n.ref.key))
        m.calls.add(ok, bad, n.first, n.last)
        m.source_ips.setdefault(n.qualifier, Calls()).add(ok, bad, n.first, n.last)
        s = ips.get(n.qualifier)
        if s is None:
            s = ips[n.qualifier] = SourceIpCalls(n.qualifier)
        s.calls.add(ok, bad, n.first, n.last)
        s.methods.setdefault((m.service, m.method), Calls()).add(ok, bad, n.first, n.last)
    for m in methods.values():
        m.source_ips = dict(sorted(m.source_ips.items(), key=lambda kv: _rank(kv[1], kv[0])))
    for s in ips.values():
        s.methods = dict(sorted(s.methods.items(), key=lambda kv: _rank(kv[1], ":".join(kv[0]))))
    by_method = sorted(methods.values(), key=lambda m: _rank(m.calls, f"{m.service}:{m.method}"))
    by_ip = sorted(ips.values(), key=lambda s: _rank(s.calls, s.address))
    return by_method, by_ip


def _total(counts: HourCounts) -> tuple[int, int]:
    """Successful and failed calls of one series, saturating like the store's counters."""
    ok, failed = sum_counts(counts[:2], axis=1).tolist()
    return ok, failed


def _hours(scope: Scope, per_api: list[HourCounts]) -> list[tuple[int, tuple[int, ...]]]:
    """(hour, (successful, failed)) of the hours with calls, summed over a principal's APIs
    and saturating like the store's counters."""
    if not per_api:
        return []
    total = sum_counts(np.stack([counts[:2] for counts in per_api]), axis=0)
    return [
        (scope.start + c * HOUR, (int(total[0, c]), int(total[1, c])))
        for c in np.flatnonzero(total.any(axis=0)).tolist()
    ]


def _callers(
    store: GraphReads, graph: str, principals: list[VertexRef], span: tuple[int, int]
) -> dict[VertexRef, list[VertexRef]]:
    """Who made each principal's calls in the span: the entities its activity rolls up from."""
    groups = by_label(principals)
    out: dict[VertexRef, list[VertexRef]] = {}
    for label, refs in groups.items():
        if label == ROLE:
            found = neighbours(store, graph, refs, ASSUMED_ROLE, Direction.IN, span=span)
        elif label == ACCOUNT:
            found = neighbours(
                store,
                graph,
                refs,
                BELONGS_TO,
                Direction.IN,
                span=span,
                other_labels=ACCOUNT_CALLERS,
            )
        elif label == INSTANCE:
            found = neighbours(store, graph, refs, RUNS_SESSION, Direction.OUT, span=span)
        else:
            out.update({r: [r] for r in refs})
            continue
        out.update({r: [n.ref for n in rows] for r, rows in found.items()})
    return out


def _volume(scope: Scope, hourly: list[tuple[int, tuple[int, ...]]]) -> ApiCallVolume:
    total = Calls()
    buckets = _dense(scope, hourly)
    for b in buckets:
        total.add(b.success, b.failed)
    return ApiCallVolume(scope, total, buckets, [], [], [])


def _cached_hours(
    store: GraphReads,
    graph: str,
    refs: list[VertexRef],
    scope: Scope,
    cache: BaselineCache | None,
    cached_before: float | None,
) -> dict[VertexRef, list[tuple[int, tuple[int, ...]]]]:
    """The hourly calls of the principals whose API call baseline for this scope is cached
    (its buckets hold the scope's observed calls, read from the same store at the same data
    version): the panel then need not read them again."""
    uri = getattr(store, "uri", None)
    if cache is None or uri is None or not refs:
        return {}
    found = vertices(store, graph, refs)
    out: dict[VertexRef, list[tuple[int, tuple[int, ...]]]] = {}
    for ref in refs:
        v = found.get(ref)
        if v is None:
            continue
        version = (v.first, v.last)
        for kind in ("api", "api-hourly"):
            key = CacheKey(uri, graph, kind, ref, scope.start, scope.end, DEFAULT_CONFIG, version)
            hit = cache.peek(key, put_before=cached_before)
            if isinstance(hit, ApiCallBaseline | HourlyBaseline):
                out[ref] = [(b.start, (b.success, b.failed)) for b in hit.buckets]
                break
    return out


def _principal_volumes(
    store: GraphReads,
    graph: str,
    refs: list[VertexRef],
    scope: Scope,
    cache: BaselineCache | None = None,
    cached_before: float | None = None,
) -> dict[VertexRef, ApiCallVolume]:
    span = (scope.start, scope.end)
    edges = neighbours(store, graph, refs, CALLED, Direction.OUT, span=span)
    callers = _callers(store, graph, refs, span)
    known = _cached_hours(store, graph, refs, scope, cache, cached_before)
    # one series for every principal and the callers whose hours make up a rollup. A role's or
    # an instance's calls are exactly its sessions' (the loader writes them as their sum), so
    # theirs are not read twice; an account's callers leave out AWS services and calls without
    # a principal, so its own are. Of the other callers only their totals are needed: their
    # edges' sums (summing in SQLite per edge is far cheaper than per hour, for an account's
    # users and roles over weeks). Hours a cached baseline holds are not read again.
    own = [r for r in refs if r.label not in SUMMED and r not in known]
    summed = [
        c
        for ref, cs in callers.items()
        if ref.label in SUMMED and ref not in known
        for c in cs
        if c != ref
    ]
    # a single principal (a profile) reads its hours per API with its callers' totals: on
    # SQLite that is the day series (an account's 45 days: thousands of rows instead of the
    # tens of thousands of hour rows of its edges per method and source address)
    single = own if own == refs and len(own) == 1 else []
    hourly = series(
        store, graph, [r for r in own if r not in single] + summed, CALLED, Direction.OUT,
        span=span,
    )  # fmt: skip
    hourly.update(known)
    totals: dict[VertexRef, Calls] = {}
    for c in summed:
        calls = totals.setdefault(c, Calls())
        for _hour, counts in hourly.get(c, []):
            calls.add(counts[0], counts[1])
    rest = [
        c
        for cs in callers.values()
        for c in cs
        if c not in totals and c not in hourly and c not in single
    ]
    # per API rather than per edge: the embedded store keeps these summed per day
    by_api = (
        store.series_by_other(
            graph, single + rest, CALLED, direction=Direction.OUT, start=scope.start,
            end=scope.end,
        )
        if single or rest
        else {}
    )  # fmt: skip
    for c, apis in by_api.items():
        if c in single:
            hourly[c] = _hours(scope, list(apis.values()))
            continue
        calls = totals.setdefault(c, Calls())
        for api_counts in apis.values():
            calls.add(*_total(api_counts))
    out = {}
    for ref in refs:
        mine = callers.get(ref, [])
        if ref.label in SUMMED and ref not in known:
            sums: dict[int, list[int]] = {}
            for c in mine:
                for hour, counts in hourly.get(c, []):
                    acc = sums.setdefault(hour, [0, 0])
                    acc[0] += counts[0]
                    acc[1] += counts[1]
            rows: list[tuple[int, tuple[int, ...]]] = [
                (hour, (ok, bad)) for hour, (ok, bad) in sorted(sums.items())
            ]
        else:
            rows = hourly.get(ref, [])
        v = out[ref] = _volume(scope, rows)
        v.by_method, v.by_source_ip = _breakdown(edges.get(ref, []))
        for c in mine:
            summed_calls = totals.get(c)
            if summed_calls is None:  # its own series: itself (a user, a session, ...)
                calls = Calls()
                for _hour, counts in hourly.get(c, []):
                    calls.add(counts[0], counts[1])
            else:
                calls = summed_calls
            if calls.total:
                # a copy: a caller shared by two profiles of one request gets its own row
                v.by_caller.append(CallerCalls(c, Calls(calls.success, calls.failed)))
        v.by_caller.sort(key=lambda c: _rank(c.calls, c.ref.key))
    return out


def _object_volumes(
    store: GraphReads, graph: str, refs: list[VertexRef], scope: Scope
) -> dict[VertexRef, ApiCallVolume]:
    span = (scope.start, scope.end)
    out: dict[VertexRef, ApiCallVolume] = {}
    for label, group in by_label(refs).items():
        edge = OBJECT_EDGES[label]
        hourly = series(
            store, graph, group, edge, Direction.IN, span=span, other_labels=LEAF_PRINCIPALS
        )
        users = neighbours(
            store, graph, group, edge, Direction.IN, span=span, other_labels=LEAF_PRINCIPALS
        )
        called: dict[VertexRef, list[Neighbour]] = {}
        if label == IP:  # which methods were called from the address: the callers' CALLED edges
            callers = [n.ref for rows in users.values() for n in rows]
            called = neighbours(store, graph, callers, CALLED, Direction.OUT, span=span)
        for ref in group:
            v = out[ref] = _volume(scope, hourly.get(ref, []))
            per_caller: dict[VertexRef, Calls] = {}
            methods: list[Neighbour] = []
            for n in users.get(ref, []):
                per_caller.setdefault(n.ref, Calls()).add(n.counts[0], n.counts[1], n.first, n.last)
                if label == BUCKET:  # qualifier: the event name
                    api = VertexRef(API, f"{S3}:{n.qualifier}")
                    methods.append(Neighbour(api, "", n.first, n.last, n.counts))
                elif label == IP:
                    methods.extend(c for c in called.get(n.ref, []) if c.qualifier == ref.key)
            v.by_method, v.by_source_ip = _breakdown(methods)
            if label == BUCKET:
                v.by_source_ip = []  # bucket edges do not record the source IP
            v.by_caller = sorted(
                (CallerCalls(r, c) for r, c in per_caller.items()),
                key=lambda c: _rank(c.calls, c.ref.key),
            )
    return out


def api_call_volume(
    *,
    store: GraphReads,
    graph: str,
    refs: Sequence[VertexRef],
    scope: Scope,
    cache: BaselineCache | None = None,
    cached_before: float | None = None,
) -> dict[VertexRef, ApiCallVolume]:
    """The API call volume panel of each entity (principals, IP addresses, user agents and
    buckets; other labels are skipped). With a `cache` (and a store with a `uri`), a
    principal's hourly calls come from its cached API call baseline for the scope, if any (put
    before `cached_before`, in the cache's clock, if given)."""
    principals = [r for r in dict.fromkeys(refs) if r.label in PRINCIPALS]
    objects = [r for r in dict.fromkeys(refs) if r.label in OBJECT_EDGES]
    out = (
        _principal_volumes(store, graph, principals, scope, cache, cached_before)
        if principals
        else {}
    )
    if objects:
        out.update(_object_volumes(store, graph, objects, scope))
    callers = [c.ref for v in out.values() for c in v.by_caller]
    # with the principals: the same read as `_cached_hours`' when every caller is one of them
    # (a page of sessions), a single store call either way
    found = vertices(store, graph, [*principals, *callers] if callers else [])
    for v in out.values():
        v.vertices = found
        for c in v.by_caller:
            caller = found.get(c.ref)
            if caller is not None and not c.calls.first:  # the caller's own span
                c.calls.first, c.calls.last = caller.first, caller.last
    return out
