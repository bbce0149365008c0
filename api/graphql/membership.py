"""GraphQL queries and mutations of membership: the same service layer as the Detective-compatible
REST API (api.services.membership*), so both fronts enforce the same rules.

Expected refusals are results, not errors: every field returns a union of its success type and
`AccessDenied`, `NotFound`, `InvalidInput`, `Conflict` or `QuotaExceeded`, each with the
Detective exception code and a message. Anything else is an unexpected error (masked).
"""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, TypeAlias, TypeVar

import strawberry
from starlette.concurrency import run_in_threadpool

from api.graphql.context import Info
from api.graphql.types import Graph, Long
from api.services import membership as service
from api.services import membership_graphs as graph_service
from api.services.errors import AccessDenied, InvalidInput, NotFound, ServiceError
from api.services.membership import MemberView, Unprocessed
from api.services.membership_errors import Conflict, QuotaExceeded
from api.services.membership_settings import MembershipSettings
from api.services.scope import to_datetime

T = TypeVar("T")
GraphArn = Annotated[strawberry.ID, strawberry.argument(description="The behavior graph's ARN.")]


@strawberry.enum(description="Amazon Detective's MemberStatus.")
class MemberStatus(enum.Enum):
    INVITED = "INVITED"
    VERIFICATION_IN_PROGRESS = "VERIFICATION_IN_PROGRESS"
    VERIFICATION_FAILED = "VERIFICATION_FAILED"
    ENABLED = "ENABLED"
    ACCEPTED_BUT_DISABLED = "ACCEPTED_BUT_DISABLED"


@strawberry.type(description="A data source package's ingest state for a member.")
class PackageState:
    package: str
    state: str


@strawberry.type(description="Bytes of one package a member contributed on its latest day.")
class VolumeUsage:
    package: str
    bytes: Long
    updated_time: datetime


@strawberry.type(description="An account's membership in a behavior graph (MemberDetail).")
class Member:
    view: strawberry.Private[MemberView]

    @strawberry.field
    def account_id(self) -> str:
        return self.view.member.account_id

    @strawberry.field
    def graph_arn(self) -> strawberry.ID:
        return strawberry.ID(self.view.member.graph)

    @strawberry.field
    def administrator_id(self) -> str:
        return self.view.admin_account

    @strawberry.field
    def email_address(self) -> str | None:
        return self.view.member.email

    @strawberry.field
    def status(self) -> MemberStatus:
        return MemberStatus(self.view.member.status)

    @strawberry.field(description="VOLUME_TOO_HIGH or VOLUME_UNKNOWN when not enabled.")
    def disabled_reason(self) -> str | None:
        return self.view.member.disabled_reason

    @strawberry.field(description="INVITATION or ORGANIZATION.")
    def invitation_type(self) -> str:
        return self.view.member.invitation_type

    @strawberry.field
    def invited_time(self) -> datetime:
        return to_datetime(self.view.member.invited_at)

    @strawberry.field
    def updated_time(self) -> datetime:
        return to_datetime(self.view.member.updated_at)

    @strawberry.field
    def packages(self) -> list[PackageState]:
        return [
            PackageState(package=p, state=s.state) for p, s in self.view.member.packages.items()
        ]

    @strawberry.field
    def volume_usage(self) -> list[VolumeUsage]:
        return [
            VolumeUsage(package=p, bytes=Long(u.ingested), updated_time=to_datetime(u.updated))
            for p, u in self.view.usage.items()
        ]


def _members(views: list[MemberView]) -> list[Member]:
    return [Member(view=v) for v in views]


@strawberry.type
class UnprocessedAccount:
    account_id: str
    reason: str


def _unprocessed(items: list[Unprocessed]) -> list[UnprocessedAccount]:
    return [UnprocessedAccount(account_id=u.key, reason=u.reason) for u in items]


# -- expected refusals ---------------------------------------------------------------------------
@strawberry.interface(description="An expected refusal, with Detective's exception code.")
class Refusal:
    code: str
    message: str


@strawberry.type
class AccessDeniedError(Refusal):
    pass


@strawberry.type
class NotFoundError(Refusal):
    pass


@strawberry.type
class InvalidInputError(Refusal):
    pass


@strawberry.type
class ConflictError(Refusal):
    pass


@strawberry.type
class QuotaExceededError(Refusal):
    resources: list[str]


Errors: TypeAlias = (
    AccessDeniedError | NotFoundError | InvalidInputError | ConflictError | QuotaExceededError
)


def refusal(e: ServiceError) -> Errors:
    if isinstance(e, AccessDenied):
        return AccessDeniedError(code=e.code, message=e.message)
    if isinstance(e, NotFound):
        return NotFoundError(code=e.code, message=e.message)
    if isinstance(e, Conflict):
        return ConflictError(code=e.code, message=e.message)
    if isinstance(e, QuotaExceeded):
        return QuotaExceededError(code=e.code, message=e.message, resources=e.resources)
    if isinstance(e, InvalidInput):
        return InvalidInputError(code=e.code, message=e.message)
    raise e


async def _run(info: Info, fn: Callable[..., T], **kwargs: Any) -> T | Errors:
    """A membership service call on the store itself (writes, and reads that must see them:
    not the request's memoizing read view) in a worker thread."""
    call = partial(fn, store=info.context.store, caller=info.context.caller, **kwargs)
    try:
        return await run_in_threadpool(call)
    except ServiceError as e:
        return refusal(e)


def _now(info: Info) -> int:
    return int(info.context.clock())


# -- results -------------------------------------------------------------------------------------
@strawberry.type
class MemberList:
    members: list[Member]


@strawberry.type
class InvitationList:
    invitations: list[Member]


@strawberry.type
class GraphResult:
    graph: Graph


@strawberry.type
class GraphDeleted:
    graph_arn: strawberry.ID


@strawberry.type
class MembersCreated:
    members: list[Member]
    unprocessed_accounts: list[UnprocessedAccount]


@strawberry.type
class MembersDeleted:
    account_ids: list[str]
    unprocessed_accounts: list[UnprocessedAccount]


@strawberry.type(description="A membership after a change of state.")
class MembershipChanged:
    member: Member


@strawberry.type(description="The membership is gone (rejected, left or removed).")
class MembershipRemoved:
    graph_arn: strawberry.ID


MembersResult: TypeAlias = Annotated[MemberList | Errors, strawberry.union("MembersResult")]
InvitationsResult: TypeAlias = Annotated[
    InvitationList | Errors, strawberry.union("InvitationsResult")
]
CreateGraphResult: TypeAlias = Annotated[
    GraphResult | Errors, strawberry.union("CreateGraphResult")
]
DeleteGraphResult: TypeAlias = Annotated[
    GraphDeleted | Errors, strawberry.union("DeleteGraphResult")
]
CreateMembersResult: TypeAlias = Annotated[
    MembersCreated | Errors, strawberry.union("CreateMembersResult")
]
DeleteMembersResult: TypeAlias = Annotated[
    MembersDeleted | Errors, strawberry.union("DeleteMembersResult")
]
MembershipChangeResult: TypeAlias = Annotated[
    MembershipChanged | Errors, strawberry.union("MembershipChangeResult")
]
MembershipRemovalResult: TypeAlias = Annotated[
    MembershipRemoved | Errors, strawberry.union("MembershipRemovalResult")
]


@strawberry.input
class AccountInput:
    account_id: str
    email_address: str | None = None


@strawberry.input
class TagInput:
    key: str
    value: str


# -- fields --------------------------------------------------------------------------------------
@strawberry.type
class MembershipQuery:
    @strawberry.field(description="Member accounts of a graph the caller administers.")
    async def members(self, info: Info, graph_arn: GraphArn) -> MembersResult:
        got = await _run(info, service.list_members, graph=str(graph_arn), now=_now(info))
        return MemberList(members=_members(got)) if isinstance(got, list) else got

    @strawberry.field(description="The caller's open and accepted invitations.")
    async def invitations(self, info: Info) -> InvitationsResult:
        got = await _run(info, service.list_invitations, now=_now(info))
        return InvitationList(invitations=_members(got)) if isinstance(got, list) else got


@strawberry.type
class MembershipMutation:
    @strawberry.mutation(description="The caller's graph in the region (created if missing).")
    async def create_graph(
        self, info: Info, region: str = "us-east-1", tags: list[TagInput] | None = None
    ) -> CreateGraphResult:
        got = await _run(
            info,
            graph_service.create_graph,
            region=region,
            tags={t.key: t.value for t in tags or []},
            now=_now(info),
        )
        return got if isinstance(got, Refusal) else GraphResult(graph=Graph(info=got))

    @strawberry.mutation(description="Delete the graph and every record of it.")
    async def delete_graph(self, info: Info, graph_arn: GraphArn) -> DeleteGraphResult:
        got = await _run(info, graph_service.delete_graph, arn=str(graph_arn))
        return got if isinstance(got, Refusal) else GraphDeleted(graph_arn=graph_arn)

    @strawberry.mutation(description="Invite accounts (organization accounts are enabled).")
    async def create_members(
        self, info: Info, graph_arn: GraphArn, accounts: list[AccountInput]
    ) -> CreateMembersResult:
        got = await _run(
            info,
            service.create_members,
            graph=str(graph_arn),
            accounts=[(a.account_id, a.email_address) for a in accounts],
            settings=MembershipSettings.from_env(),
            now=_now(info),
        )
        if isinstance(got, Refusal):
            return got
        views, unprocessed = got
        return MembersCreated(
            members=_members(views), unprocessed_accounts=_unprocessed(unprocessed)
        )

    @strawberry.mutation(description="Remove members; their records are no longer ingested.")
    async def delete_members(
        self, info: Info, graph_arn: GraphArn, account_ids: list[str]
    ) -> DeleteMembersResult:
        got = await _run(
            info, service.delete_members, graph=str(graph_arn), account_ids=account_ids
        )
        if isinstance(got, Refusal):
            return got
        deleted, unprocessed = got
        return MembersDeleted(account_ids=deleted, unprocessed_accounts=_unprocessed(unprocessed))

    @strawberry.mutation(description="Accept the invitation to a graph.")
    async def accept_invitation(self, info: Info, graph_arn: GraphArn) -> MembershipChangeResult:
        got = await _run(
            info,
            service.accept_invitation,
            graph=str(graph_arn),
            settings=MembershipSettings.from_env(),
            now=_now(info),
        )
        return got if isinstance(got, Refusal) else MembershipChanged(member=Member(view=got))

    @strawberry.mutation(description="Try again to enable an ACCEPTED_BUT_DISABLED member.")
    async def start_monitoring_member(
        self, info: Info, graph_arn: GraphArn, account_id: str
    ) -> MembershipChangeResult:
        got = await _run(
            info,
            service.start_monitoring_member,
            graph=str(graph_arn),
            account_id=account_id,
            settings=MembershipSettings.from_env(),
            now=_now(info),
        )
        return got if isinstance(got, Refusal) else MembershipChanged(member=Member(view=got))

    @strawberry.mutation(description="Decline the invitation to a graph.")
    async def reject_invitation(self, info: Info, graph_arn: GraphArn) -> MembershipRemovalResult:
        got = await _run(info, service.reject_invitation, graph=str(graph_arn))
        return got if isinstance(got, Refusal) else MembershipRemoved(graph_arn=graph_arn)

    @strawberry.mutation(description="Leave a graph; ingestion of the caller's records stops.")
    async def disassociate_membership(
        self, info: Info, graph_arn: GraphArn
    ) -> MembershipRemovalResult:
        got = await _run(info, service.disassociate_membership, graph=str(graph_arn))
        return got if isinstance(got, Refusal) else MembershipRemoved(graph_arn=graph_arn)
