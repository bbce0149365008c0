"""Query fields for investigations: graphs, search, entity profiles and finding groups."""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import strawberry
from strawberry.permission import BasePermission

from api.graphql.context import Info, ScopeInput
from api.graphql.entities import Entity, entity_of
from api.graphql.findings import FindingGroup
from api.graphql.types import Caller, EntityType, Graph, PageInfo
from api.services import entities as entity_service
from api.services import findings as finding_service
from api.services.errors import AccessDenied, InvalidInput
from graph.model import FINDING_GROUP, VertexRef

_CURSOR = "key:"


class CanReadGraph(BasePermission):
    """The `graphArn` argument names a graph the caller administers (members never read)."""

    message = "no behavior graph with this ARN that the caller administers"
    error_extensions = {"code": AccessDenied.code}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        try:
            await info.context.graph(str(kwargs["graph_arn"]))
        except AccessDenied:
            return False
        return True


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR + key).encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_CURSOR):
        raise InvalidInput(f"invalid cursor {cursor!r}: pass an endCursor or a cursor from a page")
    return text[len(_CURSOR) :]


@strawberry.type
class EntityEdge:
    cursor: str
    node: Entity


@strawberry.type(description="A page of search results (Relay cursor connection).")
class EntityConnection:
    edges: list[EntityEdge]
    page_info: PageInfo

    @strawberry.field(description="The entities of the page (the edges' nodes).")
    def nodes(self) -> list[Entity]:
        return [e.node for e in self.edges]


GraphArn = Annotated[strawberry.ID, strawberry.argument(description="The behavior graph's ARN.")]
TypeArg = Annotated[EntityType, strawberry.argument(name="type")]


@strawberry.type
class ProfileQuery:
    @strawberry.field(description="The behavior graphs the caller administers.")
    async def graphs(self, info: Info) -> list[Graph]:
        return [Graph(info=g) for g in await info.context.graphs()]

    @strawberry.field(description="One behavior graph, if the caller administers it.")
    async def graph(self, info: Info, arn: strawberry.ID) -> Graph | None:
        found = [g for g in await info.context.graphs() if g.arn == arn]
        return Graph(info=found[0]) if found else None

    @strawberry.field(description="Who the server authenticated the request as.")
    def caller(self, info: Info) -> Caller:
        c = info.context.caller
        return Caller(
            name=c.identity.name if c.identity else None,
            account_id=c.account_id,
            unrestricted=c.unrestricted,
        )

    @strawberry.field(
        permission_classes=[CanReadGraph],
        description="Entities of a type whose id, name, ARN (or other search key) matches "
        "`query`: a prefix, with `*` as a wildcard; case-sensitive, like Detective. Ordered by "
        "id; `first` at most 200. Archived findings only with includeArchived.",
    )
    async def search(
        self,
        info: Info,
        graph_arn: GraphArn,
        entity_type: TypeArg,
        query: str,
        first: int | None = entity_service.DEFAULT_PAGE,
        after: str | None = None,
        include_archived: bool = False,
    ) -> EntityConnection:
        after_key = decode_cursor(after)
        if first is None:
            first = entity_service.DEFAULT_PAGE
        result = await info.context.loaders.run(
            entity_service.search_entities,
            graph=str(graph_arn),
            label=entity_type.label,
            query=query,
            first=first,
            after=after_key,
            include_archived=include_archived,
        )
        edges = [
            EntityEdge(cursor=encode_cursor(v.key), node=entity_of(str(graph_arn), v))
            for v in result.vertices
        ]
        end = encode_cursor(result.next_after) if result.next_after else None
        return EntityConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=result.next_after is not None,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=end or (edges[-1].cursor if edges else None),
            ),
        )

    @strawberry.field(
        permission_classes=[CanReadGraph],
        description="One entity's profile, found by its id (users and roles also by name or "
        "ARN, any entity by its search keys); null when the graph does not hold it.",
    )
    async def entity(
        self,
        info: Info,
        graph_arn: GraphArn,
        entity_type: TypeArg,
        id: strawberry.ID,
    ) -> Entity | None:
        vertex = await info.context.loaders.run(
            entity_service.find_entity, graph=str(graph_arn), label=entity_type.label,
            identifier=str(id),
        )  # fmt: skip
        return entity_of(str(graph_arn), vertex) if vertex is not None else None

    @strawberry.field(
        permission_classes=[CanReadGraph],
        description="The graph's finding groups overlapping the scope (all time without one), "
        "most severe first; merged (inactive) groups only with includeInactive.",
    )
    async def finding_groups(
        self,
        info: Info,
        graph_arn: GraphArn,
        scope: ScopeInput | None = None,
        include_inactive: bool = False,
    ) -> list[FindingGroup]:
        window = info.context.scope(scope) if scope is not None else None
        rows = await info.context.loaders.run(
            finding_service.list_groups, graph=str(graph_arn), scope=window,
            include_inactive=include_inactive,
        )  # fmt: skip
        return [FindingGroup(graph_arn=str(graph_arn), vertex=v) for v in rows]

    @strawberry.field(permission_classes=[CanReadGraph], description="One finding group.")
    async def finding_group(
        self,
        info: Info,
        graph_arn: GraphArn,
        id: strawberry.ID,
    ) -> FindingGroup | None:
        found = await info.context.loaders.run(
            entity_service.get_vertices, graph=str(graph_arn),
            refs=[VertexRef(FINDING_GROUP, str(id))],
        )  # fmt: skip
        vertex = next(iter(found.values()), None)
        return FindingGroup(graph_arn=str(graph_arn), vertex=vertex) if vertex else None
