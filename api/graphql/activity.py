"""The API activity panels as GraphQL types: overall API call volume and new behavior.

Thin views over the service layer's results. Rows are built as plain values (no resolvers) so
that long lists take the fast path of `execution.py`. Baseline values come from the baselines
package, read only when the response asks for one of them: the buckets' `expected`, `lower` and
`upper` and the training notice through the `api_call_hourly` loader (one batched fit for a
profile or a search page), the methods' scope bounds and `increasedVolume` through the
`api_call_baseline` loader (baselines.volume.api_call_baseline, per principal).
"""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.context import Info, selects
from api.graphql.loaders import load
from api.graphql.types import EntityType, Long, Scope, TrainingNotice, entity_type_of
from api.graphql.types import training_notice as notice_of
from api.services import activity, behaviors
from api.services.scope import Scope as ScopeWindow
from api.services.scope import to_datetime
from baselines.volume import ApiCallBaseline, MethodBaseline
from graph.model import VertexRef

if TYPE_CHECKING:
    from api.graphql.entities import Entity

EntityRef = Annotated["Entity", strawberry.lazy("api.graphql.entities")]


def _time(ts: int) -> datetime | None:
    return to_datetime(ts) if ts else None


BUCKET_BASELINE = frozenset(
    {"expected", "lower", "upper", "failedExpected", "failedLower", "failedUpper"}
)
METHOD_BASELINE = frozenset({"increasedVolume", "expected", "lower", "upper", "excess"})


async def _baseline(
    info: Info, graph_arn: str, ref: VertexRef, scope: ScopeWindow
) -> ApiCallBaseline | None:
    found = await load(info.context.loaders.api_call_baseline, graph_arn, ref, scope)
    return found if isinstance(found, ApiCallBaseline) else None


async def _hourly(
    info: Info, graph_arn: str, ref: VertexRef, scope: ScopeWindow
) -> activity.HourlyBaseline | None:
    found = await load(info.context.loaders.api_call_hourly, graph_arn, ref, scope)
    return found if isinstance(found, activity.HourlyBaseline) else None


@strawberry.type(description="One hour of API calls, with the hour's baseline.")
class ApiCallBucket:
    start: datetime
    success: Long
    failed: Long
    expected: float | None = strawberry.field(
        default=None,
        description="Expected calls (successful and failed) in this hour of the week, from the "
        "45 days before the scope; null without any history.",
    )
    lower: float | None = strawberry.field(default=None, description="Lower bound of all calls.")
    upper: float | None = strawberry.field(
        default=None, description="Upper bound of all calls: more is unusual for this hour."
    )
    failed_expected: float | None = strawberry.field(
        default=None, description="Expected failed calls."
    )
    failed_lower: float | None = strawberry.field(default=None)
    failed_upper: float | None = strawberry.field(default=None)


@strawberry.type(description="Calls counted in the scope; first/last observed over all time.")
class CallCount:
    calls: strawberry.Private[activity.Calls]

    # methods taking only `self`: execution.py's fast path calls them for the fields a query
    # selects, so a row costs nothing for the fields it does not (the dates, mostly)
    @strawberry.field
    def success(self) -> Long:
        return Long(self.calls.success)

    @strawberry.field
    def failed(self) -> Long:
        return Long(self.calls.failed)

    @strawberry.field
    def first_observed(self) -> datetime | None:
        return _time(self.calls.first)

    @strawberry.field
    def last_observed(self) -> datetime | None:
        return _time(self.calls.last)


@strawberry.type
class MethodCount(CallCount):
    service: str
    method: str


@strawberry.type
class SourceIpCount(CallCount):
    ip_address: str = strawberry.field(description="sourceIPAddress: an address or a service.")


@strawberry.type(description="Calls of one API method, with the source IPs they came from.")
class ApiMethodCalls(CallCount):
    service: str
    method: str
    source_ips: list[SourceIpCount]


@strawberry.type(description="Calls from one source IP, with the methods called from it.")
class SourceIpCalls(CallCount):
    ip_address: str
    methods: list[MethodCount]


@strawberry.type(description="Calls made by one caller (a role's session, an account's users…).")
class CallerCalls(CallCount):
    ref: strawberry.Private[VertexRef]
    graph_arn: strawberry.Private[str]

    @strawberry.field
    def caller_id(self) -> strawberry.ID:
        return strawberry.ID(self.ref.key)

    @strawberry.field
    def caller_type(self) -> EntityType:
        return entity_type_of(self.ref.label)

    @strawberry.field
    async def caller(self, info: Info) -> EntityRef | None:
        from api.graphql.entities import load_entity

        return await load_entity(info, self.graph_arn, self.ref)


@strawberry.type(description="Overall API call volume: hourly buckets and activity details.")
class ApiCallVolume:
    data: strawberry.Private[activity.ApiCallVolume]
    graph_arn: strawberry.Private[str]
    ref: strawberry.Private[VertexRef]

    @strawberry.field
    def scope(self) -> Scope:
        return Scope(window=self.data.scope)

    @strawberry.field
    def total_success(self) -> Long:
        return Long(self.data.total.success)

    @strawberry.field
    def total_failed(self) -> Long:
        return Long(self.data.total.failed)

    @strawberry.field(description="Every hour of the scope, oldest first.")
    async def buckets(self, info: Info) -> list[ApiCallBucket]:
        out = [
            ApiCallBucket(
                start=to_datetime(b.start), success=Long(b.success), failed=Long(b.failed)
            )
            for b in self.data.buckets
        ]
        if selects(info, BUCKET_BASELINE):
            base = await _hourly(info, self.graph_arn, self.ref, self.data.scope)
            for bucket, b in zip(out, base.buckets if base else (), strict=False):
                bucket.expected, bucket.lower, bucket.upper = b.expected, b.lower, b.upper
                bucket.failed_expected = b.failed_expected
                bucket.failed_lower, bucket.failed_upper = b.failed_lower, b.failed_upper
        return out

    @strawberry.field(
        description="Set when less than two weeks of history precede the scope: the baseline "
        "values are then provisional."
    )
    async def training_notice(self, info: Info) -> TrainingNotice | None:
        base = await _hourly(info, self.graph_arn, self.ref, self.data.scope)
        return notice_of(base.training) if base else None

    @strawberry.field(description="By API method, most successful calls first.")
    def by_method(self) -> list[ApiMethodCalls]:
        return [
            ApiMethodCalls(
                calls=m.calls,
                service=m.service,
                method=m.method,
                source_ips=[
                    SourceIpCount(calls=c, ip_address=ip) for ip, c in m.source_ips.items()
                ],
            )
            for m in self.data.by_method
        ]

    @strawberry.field(description="By source IP address, most successful calls first.")
    def by_source_ip(self) -> list[SourceIpCalls]:
        return [
            SourceIpCalls(
                calls=s.calls,
                ip_address=s.address,
                methods=[
                    MethodCount(calls=c, service=service, method=method)
                    for (service, method), c in s.methods.items()
                ],
            )
            for s in self.data.by_source_ip
        ]

    @strawberry.field(
        description="By caller, most successful calls first: a role's sessions, an instance's "
        "instance-profile sessions, an account's users, roles and federated users (as "
        "Detective's account profile lists the users and roles that made the calls; calls of "
        "AWS services, principals shared by every account, count in the account's totals "
        "and by source IP, not here); a user, a session or a federated user itself."
    )
    def by_caller(self) -> list[CallerCalls]:
        return [
            CallerCalls(calls=c.calls, ref=c.ref, graph_arn=self.graph_arn)
            for c in self.data.by_caller
        ]


@strawberry.type
class Behavior(CallCount):
    item: strawberry.Private[behaviors.Behavior]

    @strawberry.field(
        description="Used in the scope and not in the 45 days before it (the baseline window)."
    )
    def newly_observed(self) -> bool:
        return self.item.newly_observed

    @strawberry.field(
        description="For a newly observed item of an account's principal: whether the whole "
        "account did not use it in the baseline window either (null otherwise)."
    )
    def new_for_account(self) -> bool | None:
        return self.item.new_for_account


@strawberry.type(description="An API method the principal called in the scope.")
class ApiCallBehavior(Behavior):
    service: str
    method: str
    increased_volume: bool | None = strawberry.field(
        default=None,
        description="The method's calls in the scope exceed the upper bound of its scope total "
        "(false while in training; null when the baseline was not read).",
    )
    expected: float | None = strawberry.field(
        default=None, description="Expected calls of the method over the whole scope."
    )
    lower: float | None = strawberry.field(default=None, description="Lower bound of the total.")
    upper: float | None = strawberry.field(default=None, description="Upper bound of the total.")
    excess: float | None = strawberry.field(
        default=None, description="Calls above the upper bound (increased volume only)."
    )


def _with_baseline(
    row: ApiCallBehavior, method: MethodBaseline | None, increased: dict[str, float]
) -> ApiCallBehavior:
    if method is not None:
        row.expected, row.lower, row.upper = method.expected, method.lower, method.upper
    row.increased_volume = row.item.key in increased
    row.excess = increased.get(row.item.key)
    return row


@strawberry.type(description="A user agent the principal used in the scope.")
class UserAgentBehavior(Behavior):
    user_agent: str


@strawberry.type(description="A place the principal's calls came from in the scope.")
class GeolocationBehavior(Behavior):
    location: str = strawberry.field(description="`<country>[/<city>]`")
    country: str
    city: str | None
    ip_addresses: list[str]
    country_newly_observed: bool | None = strawberry.field(
        default=None,
        description="For a newly observed place: whether no address of its country was used "
        "in the baseline window either (null for places seen before).",
    )


@strawberry.type(description="An autonomous system organization the principal's calls came from.")
class AsoBehavior(Behavior):
    aso: str = strawberry.field(description="`AS<number>`")
    asn: int | None
    organization: str | None
    ip_addresses: list[str]


def _only(items: list[behaviors.Behavior], only_new: bool) -> list[behaviors.Behavior]:
    return [b for b in items if b.newly_observed] if only_new else items


@strawberry.type(description="New behavior: each item marked newly observed or not.")
class NewBehaviors:
    data: strawberry.Private[behaviors.NewBehaviors]
    graph_arn: strawberry.Private[str]
    ref: strawberry.Private[VertexRef]

    @strawberry.field
    def scope(self) -> Scope:
        return Scope(window=self.data.scope)

    @strawberry.field(
        description="Set when less than two weeks of history precede the scope: what is newly "
        "observed is then provisional, and no increased volume is listed."
    )
    def training_notice(self) -> TrainingNotice | None:
        return notice_of(self.data.training)

    async def _volume(
        self, info: Info
    ) -> tuple[dict[str, MethodBaseline], dict[str, float], ApiCallBaseline | None]:
        base = await _baseline(info, self.graph_arn, self.ref, self.data.scope)
        if base is None:
            return {}, {}, None
        methods = {m.api: m for m in base.methods}
        return methods, {v.api: v.excess for v in base.increased_volume}, base

    @strawberry.field(description="API methods called in the scope, new ones first.")
    async def api_calls(self, info: Info, only_new: bool = False) -> list[ApiCallBehavior]:
        out = []
        for b in _only(self.data.api_calls, only_new):
            service, method = activity.split_api(b.key)
            out.append(ApiCallBehavior(calls=b.calls, item=b, service=service, method=method))
        if selects(info, METHOD_BASELINE):
            methods, increased, base = await self._volume(info)
            if base is not None:
                out = [_with_baseline(r, methods.get(r.item.key), increased) for r in out]
        return out

    @strawberry.field(description="User agents used in the scope, new ones first.")
    def user_agents(self, only_new: bool = False) -> list[UserAgentBehavior]:
        return [
            UserAgentBehavior(calls=b.calls, item=b, user_agent=b.key)
            for b in _only(self.data.user_agents, only_new)
        ]

    @strawberry.field(description="Geolocations of the addresses used in the scope.")
    def geolocations(self, only_new: bool = False) -> list[GeolocationBehavior]:
        out = []
        for b in _only(self.data.geolocations, only_new):
            country, _, city = b.key.partition("/")
            out.append(
                GeolocationBehavior(
                    calls=b.calls,
                    item=b,
                    location=b.key,
                    country=country,
                    city=city or None,
                    ip_addresses=sorted(b.addresses),
                    country_newly_observed=b.country_new,
                )
            )
        return out

    @strawberry.field(description="Autonomous system organizations of the addresses used.")
    def asos(self, only_new: bool = False) -> list[AsoBehavior]:
        out = []
        for b in _only(self.data.asos, only_new):
            number = b.key.removeprefix("AS")
            out.append(
                AsoBehavior(
                    calls=b.calls,
                    item=b,
                    aso=b.key,
                    asn=int(number) if number.isdigit() else None,
                    organization=b.organization,
                    ip_addresses=sorted(b.addresses),
                )
            )
        return out

    @strawberry.field(
        description="API methods whose calls in the scope exceed the upper bound of their "
        "expected total (called in the baseline window, at least 5 calls), largest excess first; "
        "empty while in training."
    )
    async def increased_volume(self, info: Info) -> list[ApiCallBehavior] | None:
        methods, increased, base = await self._volume(info)
        if base is None:
            return None
        listed = {b.key: b for b in self.data.api_calls}
        out = []
        for v in base.increased_volume:
            item = listed.get(v.api) or behaviors.Behavior(v.api)
            if v.api not in listed:
                item.calls.add(v.observed, 0)
            row = ApiCallBehavior(calls=item.calls, item=item, service=v.service, method=v.method)
            out.append(_with_baseline(row, methods.get(v.api), increased))
        return out
