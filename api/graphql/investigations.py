"""GraphQL queries and mutations of Detective Investigations: StartInvestigation,
GetInvestigation, ListInvestigations, ListIndicators and UpdateInvestigationState over the same
service layer as the REST API (api.services.investigations), so both fronts enforce the same
rules. Expected refusals are union results, as in api.graphql.membership.

An investigation's JSON report downloads from
`GET /investigations/report?GraphArn=...&InvestigationId=...` (api.rest.investigations),
authenticated like every other route; `reportPath` names it.
"""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias
from urllib.parse import urlencode

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info
from api.graphql.membership import Errors, Refusal, _now, _run
from api.rest.investigations import REPORT_PATH
from api.services import investigations as service
from api.services.investigations import Indicator as IndicatorRecord
from api.services.investigations import Investigation as InvestigationRecord
from api.services.scope import to_datetime

GraphArn = Annotated[strawberry.ID, strawberry.argument(description="The behavior graph's ARN.")]


@strawberry.enum(description="Detective's investigation severity (its worst indicator's).")
class Severity(enum.Enum):
    INFORMATIONAL = "INFORMATIONAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


@strawberry.enum(description="Detective's investigation status.")
class InvestigationStatus(enum.Enum):
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    SUCCESSFUL = "SUCCESSFUL"


@strawberry.enum(description="Detective's investigation state.")
class InvestigationState(enum.Enum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


@strawberry.enum(description="Detective's indicator types.")
class IndicatorType(enum.Enum):
    TTP_OBSERVED = "TTP_OBSERVED"
    IMPOSSIBLE_TRAVEL = "IMPOSSIBLE_TRAVEL"
    FLAGGED_IP_ADDRESS = "FLAGGED_IP_ADDRESS"
    NEW_GEOLOCATION = "NEW_GEOLOCATION"
    NEW_ASO = "NEW_ASO"
    NEW_USER_AGENT = "NEW_USER_AGENT"
    RELATED_FINDING = "RELATED_FINDING"
    RELATED_FINDING_GROUP = "RELATED_FINDING_GROUP"


@strawberry.enum(description="ListInvestigations' sort fields.")
class InvestigationSortField(enum.Enum):
    SEVERITY = "SEVERITY"
    STATUS = "STATUS"
    CREATED_TIME = "CREATED_TIME"


@strawberry.enum
class SortOrder(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.type(description="An investigation of an IAM user or role over a scope.")
class Investigation:
    record: strawberry.Private[InvestigationRecord]

    @strawberry.field
    def investigation_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.investigation_id)

    @strawberry.field
    def graph_arn(self) -> strawberry.ID:
        return strawberry.ID(self.record.graph)

    @strawberry.field
    def entity_arn(self) -> str:
        return self.record.entity_arn

    @strawberry.field(description="IAM_USER or IAM_ROLE.")
    def entity_type(self) -> str:
        return self.record.entity_type

    @strawberry.field
    def status(self) -> InvestigationStatus:
        return InvestigationStatus(self.record.status)

    @strawberry.field
    def severity(self) -> Severity:
        return Severity(self.record.severity)

    @strawberry.field
    def state(self) -> InvestigationState:
        return InvestigationState(self.record.state)

    @strawberry.field
    def created_time(self) -> datetime:
        return to_datetime(self.record.created)

    @strawberry.field
    def scope_start_time(self) -> datetime:
        return to_datetime(self.record.scope_start)

    @strawberry.field
    def scope_end_time(self) -> datetime:
        return to_datetime(self.record.scope_end)

    @strawberry.field(
        description="Where the JSON report downloads (GET, authenticated like the API)."
    )
    def report_path(self) -> str:
        query = urlencode(
            {"GraphArn": self.record.graph, "InvestigationId": self.record.investigation_id}
        )
        return f"{REPORT_PATH}?{query}"


@strawberry.type(description="One indicator of compromise (Detective's Indicator).")
class Indicator:
    record: strawberry.Private[IndicatorRecord]

    @strawberry.field
    def indicator_type(self) -> IndicatorType:
        return IndicatorType(self.record.indicator_type)

    @strawberry.field(description="Detective's IndicatorDetail, as the REST API returns it.")
    def indicator_detail(self) -> JSON:
        return JSON(dict(self.record.detail))


@strawberry.type(description="An investigation, as started, read or updated.")
class InvestigationPayload:
    investigation: Investigation


@strawberry.type(description="A page of investigations; pass nextToken for the next.")
class InvestigationList:
    investigations: list[Investigation]
    next_token: str | None


@strawberry.type(description="A page of indicators; pass nextToken for the next.")
class IndicatorList:
    investigation_id: strawberry.ID
    indicators: list[Indicator]
    next_token: str | None


InvestigationResult: TypeAlias = Annotated[
    InvestigationPayload | Errors, strawberry.union("InvestigationResult")
]
InvestigationsResult: TypeAlias = Annotated[
    InvestigationList | Errors, strawberry.union("InvestigationsResult")
]
IndicatorsResult: TypeAlias = Annotated[
    IndicatorList | Errors, strawberry.union("IndicatorsResult")
]


@strawberry.input(description="ListInvestigations' FilterCriteria (all given must match).")
class InvestigationFilter:
    severity: Severity | None = None
    status: InvestigationStatus | None = None
    state: InvestigationState | None = None
    entity_arn: str | None = None
    created_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_before: datetime | None = strawberry.field(default=None, description="Inclusive.")


@strawberry.input
class InvestigationSort:
    field: InvestigationSortField = InvestigationSortField.CREATED_TIME
    order: SortOrder = SortOrder.DESC


def _epoch(value: datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return int(aware.timestamp())


def _criteria(f: InvestigationFilter | None) -> dict[str, Any] | None:
    if f is None:
        return None
    out: dict[str, Any] = {}
    for name, value in (("Severity", f.severity), ("Status", f.status), ("State", f.state)):
        if value is not None:
            out[name] = {"Value": value.value}
    if f.entity_arn is not None:
        out["EntityArn"] = {"Value": f.entity_arn}
    if f.created_after is not None or f.created_before is not None:
        out["CreatedTime"] = {
            "StartInclusive": _epoch(f.created_after) if f.created_after else 0,
            "EndInclusive": _epoch(f.created_before) if f.created_before else 2**62,
        }
    return out


def _investigation(got: InvestigationRecord | Errors) -> InvestigationResult:
    if isinstance(got, Refusal):
        return got
    return InvestigationPayload(investigation=Investigation(record=got))


@strawberry.type
class InvestigationQuery:
    @strawberry.field(description="One investigation (GetInvestigation).")
    async def investigation(
        self, info: Info, graph_arn: GraphArn, investigation_id: strawberry.ID
    ) -> InvestigationResult:
        got = await _run(
            info,
            service.get_investigation,
            graph=str(graph_arn),
            investigation_id=str(investigation_id),
        )
        return _investigation(got)

    @strawberry.field(description="A page of the graph's investigations (ListInvestigations).")
    async def investigations(
        self,
        info: Info,
        graph_arn: GraphArn,
        filter: InvestigationFilter | None = None,
        sort: InvestigationSort | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> InvestigationsResult:
        got = await _run(
            info,
            service.list_investigations,
            graph=str(graph_arn),
            criteria=_criteria(filter),
            sort=None
            if sort is None
            else {"Field": sort.field.value, "SortOrder": sort.order.value},
            token=next_token,
            max_results=max_results,
            now=_now(info),
        )
        if isinstance(got, Refusal):
            return got
        found, token = got
        return InvestigationList(
            investigations=[Investigation(record=i) for i in found], next_token=token
        )

    @strawberry.field(description="A page of an investigation's indicators (ListIndicators).")
    async def indicators(
        self,
        info: Info,
        graph_arn: GraphArn,
        investigation_id: strawberry.ID,
        indicator_type: IndicatorType | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> IndicatorsResult:
        got = await _run(
            info,
            service.list_indicators,
            graph=str(graph_arn),
            investigation_id=str(investigation_id),
            indicator_type=None if indicator_type is None else indicator_type.value,
            token=next_token,
            max_results=max_results,
            now=_now(info),
        )
        if isinstance(got, Refusal):
            return got
        found, token = got
        return IndicatorList(
            investigation_id=investigation_id,
            indicators=[Indicator(record=i) for i in found],
            next_token=token,
        )


@strawberry.type
class InvestigationMutation:
    @strawberry.mutation(
        description="Investigate an IAM user or role over a scope (StartInvestigation); the "
        "investigation runs before the answer."
    )
    async def start_investigation(
        self,
        info: Info,
        graph_arn: GraphArn,
        entity_arn: str,
        scope_start_time: datetime,
        scope_end_time: datetime,
    ) -> InvestigationResult:
        got = await _run(
            info,
            service.start_investigation,
            graph=str(graph_arn),
            entity_arn=entity_arn,
            scope_start=_epoch(scope_start_time),
            scope_end=_epoch(scope_end_time),
            now=_now(info),
        )
        return _investigation(got)

    @strawberry.mutation(description="Archive or reactivate (UpdateInvestigationState).")
    async def update_investigation_state(
        self,
        info: Info,
        graph_arn: GraphArn,
        investigation_id: strawberry.ID,
        state: InvestigationState,
    ) -> InvestigationResult:
        got = await _run(
            info,
            service.update_investigation_state,
            graph=str(graph_arn),
            investigation_id=str(investigation_id),
            state=state.value,
        )
        if isinstance(got, Refusal):
            return got
        after = await _run(
            info,
            service.get_investigation,
            graph=str(graph_arn),
            investigation_id=str(investigation_id),
        )
        return _investigation(after)


__all__ = ["InvestigationMutation", "InvestigationQuery"]
