"""The Entity interface every profile shares, and the registry from graph labels to types.

Every entity type wraps a stored vertex (`graph.store.Vertex`) of one graph; its panels are
resolved through the request's DataLoaders, so that a list of entities costs one batched read
per panel. Concrete types live in `principals.py`, `resources.py` and `findings.py`; each
registers itself under its graph label with `@registers(label)`.
"""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry

from api.graphql.context import Info, ScopeInput
from api.graphql.loaders import load
from api.graphql.types import EntityType, entity_type_of
from api.services.scope import to_datetime
from graph import model
from graph.model import VertexRef
from graph.store import Vertex

if TYPE_CHECKING:
    from api.graphql.findings import Finding, FindingGroup
    from api.graphql.principals import AwsAccount

E = TypeVar("E", bound="Entity")
ENTITY_TYPES: dict[str, type[Entity]] = {}


def registers(label: str) -> Callable[[type[E]], type[E]]:
    def register(cls: type[E]) -> type[E]:
        ENTITY_TYPES[label] = cls
        return cls

    return register


def entity_of(graph_arn: str, vertex: Vertex) -> Entity:
    return ENTITY_TYPES[vertex.label](graph_arn=graph_arn, vertex=vertex)


async def load_entity(info: Info, graph_arn: str, ref: VertexRef) -> Entity | None:
    vertex = await load(info.context.loaders.vertex, graph_arn, ref)
    return entity_of(graph_arn, vertex) if vertex is not None else None


def prop(vertex: Vertex, name: str) -> str | None:
    value = vertex.props.get(name)
    return None if value is None else str(value)


@strawberry.interface(description="An entity of the behavior graph, with its profile panels.")
class Entity:
    graph_arn: strawberry.Private[str]
    vertex: strawberry.Private[Vertex]

    @strawberry.field(description="The entity's identifier in its type's namespace.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.vertex.key)

    @strawberry.field(name="type")
    def entity_type(self) -> EntityType:
        return entity_type_of(self.vertex.label)

    @strawberry.field(description="When the graph first saw the entity (over all time).")
    def first_observed(self) -> datetime:
        return to_datetime(self.vertex.first)

    @strawberry.field(description="When the graph last saw the entity (over all time).")
    def last_observed(self) -> datetime:
        return to_datetime(self.vertex.last)

    @strawberry.field(
        description="Findings involving the entity whose activity overlaps the scope (default: "
        "the last 24 hours), newest first. Archived findings only with includeArchived."
    )
    async def involved_findings(
        self, info: Info, scope: ScopeInput | None = None, include_archived: bool = False
    ) -> list[Annotated[Finding, strawberry.lazy("api.graphql.findings")]]:
        rows = await load(
            info.context.loaders.involved_findings,
            self.graph_arn,
            self.vertex.ref,
            info.context.scope(scope),
            include_archived,
        )
        return [entity_of(self.graph_arn, r.vertex) for r in rows]  # type: ignore[misc]

    @strawberry.field(
        description="Finding groups holding the entity's findings and overlapping the scope "
        "(default: the last 24 hours), most severe first; merged (inactive) groups only with "
        "includeInactive."
    )
    async def finding_groups(
        self, info: Info, scope: ScopeInput | None = None, include_inactive: bool = False
    ) -> list[Annotated[FindingGroup, strawberry.lazy("api.graphql.findings")]]:
        from api.graphql.findings import FindingGroup

        rows = await load(
            info.context.loaders.finding_groups,
            self.graph_arn,
            self.vertex.ref,
            info.context.scope(scope),
            include_inactive,
        )
        return [FindingGroup(graph_arn=self.graph_arn, vertex=v) for v in rows]


async def resolve_account(
    root: Any, info: Info
) -> Annotated[AwsAccount, strawberry.lazy("api.graphql.principals")] | None:
    account = root.vertex.props.get("account")
    if not account:
        return None
    return await load_entity(info, root.graph_arn, VertexRef(model.ACCOUNT, str(account)))  # type: ignore[return-value]


def account_id(root: Any) -> str | None:
    return prop(root.vertex, "account")


def account_id_field() -> Any:
    """`accountId`, for types whose vertices record their account."""
    return strawberry.field(resolver=account_id, description="The AWS account the entity is in.")


def account_field() -> Any:
    """`account`: a pivot to the account's profile."""
    return strawberry.field(resolver=resolve_account, description="The account's profile.")


@registers(model.ENI)
@strawberry.type(description="An elastic network interface; VPC flow logs are per interface.")
class NetworkInterface(Entity):
    account_id: str | None = account_id_field()
    account: Annotated[AwsAccount, strawberry.lazy("api.graphql.principals")] | None = (
        account_field()
    )

    @strawberry.field
    def vpc_id(self) -> str | None:
        return prop(self.vertex, "vpc_id")

    @strawberry.field
    def subnet_id(self) -> str | None:
        return prop(self.vertex, "subnet_id")

    @strawberry.field
    def region(self) -> str | None:
        return prop(self.vertex, "region")


@registers(model.EKS_CLUSTER)
@strawberry.type(description="An Amazon EKS cluster named by GuardDuty findings.")
class EksCluster(Entity):
    account_id: str | None = account_id_field()
    account: Annotated[AwsAccount, strawberry.lazy("api.graphql.principals")] | None = (
        account_field()
    )

    @strawberry.field
    def name(self) -> str | None:
        return prop(self.vertex, "name")

    @strawberry.field
    def arn(self) -> str | None:
        return prop(self.vertex, "arn")

    @strawberry.field
    def region(self) -> str | None:
        return prop(self.vertex, "region")


@registers(model.POD)
@strawberry.type(description="A Kubernetes pod of an EKS cluster.")
class KubernetesPod(Entity):
    account_id: str | None = account_id_field()
    account: Annotated[AwsAccount, strawberry.lazy("api.graphql.principals")] | None = (
        account_field()
    )

    @strawberry.field
    def name(self) -> str | None:
        return prop(self.vertex, "name")

    @strawberry.field
    def namespace(self) -> str | None:
        return prop(self.vertex, "namespace")
