"""Resource interaction as GraphQL types: role sessions, who assumed what, role chaining."""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.types import EntityType, Long, Scope, entity_type_of
from api.services import interactions
from api.services.scope import to_datetime

if TYPE_CHECKING:
    from api.graphql.entities import Entity

EntityRef = Annotated["Entity", strawberry.lazy("api.graphql.entities")]


@strawberry.type(description="A relationship with another entity, counted in its hours.")
class Interaction:
    data: strawberry.Private[interactions.Interaction]
    graph_arn: strawberry.Private[str]

    @strawberry.field
    def entity_id(self) -> strawberry.ID:
        return strawberry.ID(self.data.ref.key)

    @strawberry.field
    def entity_type(self) -> EntityType:
        return entity_type_of(self.data.ref.label)

    @strawberry.field
    async def entity(self, info: Info) -> EntityRef | None:
        from api.graphql.entities import load_entity

        return await load_entity(info, self.graph_arn, self.data.ref)

    @strawberry.field
    def first_observed(self) -> datetime:
        return to_datetime(self.data.first)

    @strawberry.field
    def last_observed(self) -> datetime:
        return to_datetime(self.data.last)

    @strawberry.field(description="Hourly observations (calls, or role assumptions).")
    def count(self) -> Long:
        return Long(self.data.count)

    @strawberry.field(description="The AssumeRole* calls that made the relationship.")
    def via(self) -> list[str]:
        return [v for v in self.data.via.split(", ") if v]

    @strawberry.field(description="The role sessions linking the entity (roles only).")
    def through_session_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(r.key) for r in self.data.through]


@strawberry.type(description="Resource interaction: who assumed what, and role chaining.")
class ResourceInteraction:
    data: strawberry.Private[interactions.ResourceInteraction]
    graph_arn: strawberry.Private[str]

    def _all(self, rows: list[interactions.Interaction]) -> list[Interaction]:
        return [Interaction(data=r, graph_arn=self.graph_arn) for r in rows]

    def _one(self, row: interactions.Interaction | None) -> Interaction | None:
        return Interaction(data=row, graph_arn=self.graph_arn) if row else None

    @strawberry.field
    def scope(self) -> Scope:
        return Scope(window=self.data.scope)

    @strawberry.field(description="A role session's role.")
    def role(self) -> Interaction | None:
        return self._one(self.data.role)

    @strawberry.field(description="The EC2 instance a role session ran on.")
    def instance(self) -> Interaction | None:
        return self._one(self.data.instance)

    @strawberry.field(description="Who started a role session (user, service, account, session).")
    def started_by(self) -> list[Interaction]:
        return self._all(self.data.started_by)

    @strawberry.field(description="A role's or an instance's sessions active in the scope.")
    def sessions(self) -> list[Interaction]:
        return self._all(self.data.sessions)

    @strawberry.field(description="Who started a role's sessions (who assumed the role).")
    def assumed_by(self) -> list[Interaction]:
        return self._all(self.data.assumed_by)

    @strawberry.field(description="Role sessions started in the scope (role chaining).")
    def sessions_started(self) -> list[Interaction]:
        return self._all(self.data.sessions_started)

    @strawberry.field(description="The roles of those sessions: roles assumed.")
    def roles_assumed(self) -> list[Interaction]:
        return self._all(self.data.roles_assumed)

    @strawberry.field(description="Who launched an EC2 instance (RunInstances).")
    def launched_by(self) -> list[Interaction]:
        return self._all(self.data.launched_by)
