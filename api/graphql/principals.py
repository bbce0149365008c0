"""Principals: accounts, users, roles, role sessions, federated users and AWS services.

They share Detective's principal panels: overall API call volume, new behavior and resource
interaction (role assumption and chaining). Each panel takes a scope; without one it covers the
last 24 hours.
"""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.activity import (
    BUCKET_BASELINE,
    METHOD_BASELINE,
    ApiCallVolume,
    NewBehaviors,
)
from api.graphql.context import Info, ScopeInput, selects
from api.graphql.entities import (
    Entity,
    account_field,
    account_id_field,
    load_entity,
    prop,
    registers,
)
from api.graphql.interactions import ResourceInteraction
from api.graphql.loaders import load, prefetch, prime
from graph import model
from graph.model import VertexRef

SCOPE_HELP = "Scope time (default: the last 24 hours)."


@strawberry.interface(description="An entity whose API calls the graph counts.")
class ApiActivity(Entity):
    @strawberry.field(
        description="Overall API call volume: hourly successful and failed calls in the scope "
        "(default: the last 24 hours), by method, by source IP and by caller."
    )
    async def api_call_volume(self, info: Info, scope: ScopeInput | None = None) -> ApiCallVolume:
        window = info.context.scope(scope)
        if selects(info, BUCKET_BASELINE | {"trainingNotice"}):
            prefetch(info.context.loaders.api_call_hourly, self.graph_arn, self.vertex.ref, window)
        data = await load(
            info.context.loaders.api_call_volume, self.graph_arn, self.vertex.ref, window
        )
        prime(info.context.loaders.vertex, self.graph_arn, data.vertices)
        return ApiCallVolume(data=data, graph_arn=self.graph_arn, ref=self.vertex.ref)


@strawberry.interface(description="A principal: an identity that calls AWS APIs.")
class Principal(ApiActivity):
    @strawberry.field(
        description="New behavior in the scope (default: the last 24 hours) against the 45 "
        "days before it: API calls, user agents, geolocations and ASOs."
    )
    async def new_behaviors(self, info: Info, scope: ScopeInput | None = None) -> NewBehaviors:
        window = info.context.scope(scope)
        if selects(info, METHOD_BASELINE):
            prefetch(
                info.context.loaders.api_call_baseline, self.graph_arn, self.vertex.ref, window
            )
        data = await load(
            info.context.loaders.new_behaviors, self.graph_arn, self.vertex.ref, window
        )
        return NewBehaviors(data=data, graph_arn=self.graph_arn, ref=self.vertex.ref)

    @strawberry.field(
        description="Resource interaction in the scope (default: the last 24 hours): role "
        "sessions, who assumed what, and role chaining."
    )
    async def resource_interaction(
        self, info: Info, scope: ScopeInput | None = None
    ) -> ResourceInteraction:
        data = await load(
            info.context.loaders.resource_interaction,
            self.graph_arn,
            self.vertex.ref,
            info.context.scope(scope),
        )
        prime(info.context.loaders.vertex, self.graph_arn, data.vertices)
        return ResourceInteraction(data=data, graph_arn=self.graph_arn)


@registers(model.ACCOUNT)
@strawberry.type(description="An AWS account; its activity is the sum over its principals.")
class AwsAccount(Principal):
    @strawberry.field
    def account_id(self) -> str:
        return self.vertex.key

    @strawberry.field
    def name(self) -> str | None:
        return prop(self.vertex, "name")


@registers(model.USER)
@strawberry.type(description="An IAM user, or an account's root user (id = the account id).")
class AwsUser(Principal):
    account_id: str | None = account_id_field()
    account: AwsAccount | None = account_field()

    @strawberry.field(description="The user's principal id (AIDA...), or the root's account id.")
    def principal_id(self) -> str:
        return self.vertex.key

    @strawberry.field
    def name(self) -> str | None:
        return prop(self.vertex, "name")

    @strawberry.field
    def arn(self) -> str | None:
        return prop(self.vertex, "arn")

    @strawberry.field
    def is_root(self) -> bool:
        return self.vertex.props.get("name") == "root"


@registers(model.ROLE)
@strawberry.type(description="An IAM role; its activity is the sum over its role sessions.")
class AwsRole(Principal):
    account_id: str | None = account_id_field()
    account: AwsAccount | None = account_field()

    @strawberry.field(description="The role's principal id (AROA...).")
    def principal_id(self) -> str:
        return self.vertex.key

    @strawberry.field
    def name(self) -> str | None:
        return prop(self.vertex, "name")

    @strawberry.field
    def arn(self) -> str | None:
        return prop(self.vertex, "arn")


@registers(model.SESSION)
@strawberry.type(description="A role session; id = `<rolePrincipalId>:<sessionName>`.")
class AwsRoleSession(Principal):
    account_id: str | None = account_id_field()
    account: AwsAccount | None = account_field()

    @strawberry.field
    def session_name(self) -> str | None:
        return prop(self.vertex, "name")

    @strawberry.field
    def arn(self) -> str | None:
        return prop(self.vertex, "arn")

    @strawberry.field
    def role_principal_id(self) -> str:
        return self.vertex.key.partition(":")[0]

    @strawberry.field
    def role_name(self) -> str | None:
        return prop(self.vertex, "role_name")

    @strawberry.field
    def role_arn(self) -> str | None:
        return prop(self.vertex, "role_arn")

    @strawberry.field(description="The assumed role's profile.")
    async def role(self, info: Info) -> AwsRole | None:
        ref = VertexRef(model.ROLE, self.vertex.key.partition(":")[0])
        return await load_entity(info, self.graph_arn, ref)  # type: ignore[return-value]


@registers(model.FEDERATED)
@strawberry.type(description="A SAML, web-identity, IAM Identity Center or STS federated user.")
class FederatedUser(Principal):
    account_id: str | None = account_id_field()
    account: AwsAccount | None = account_field()

    @strawberry.field
    def name(self) -> str | None:
        return prop(self.vertex, "name")

    @strawberry.field
    def identity_provider(self) -> str | None:
        return prop(self.vertex, "idp")

    @strawberry.field(description="The application that requested a web identity token.")
    def audience(self) -> str | None:
        return prop(self.vertex, "audience")

    @strawberry.field
    def arn(self) -> str | None:
        return prop(self.vertex, "arn")


@registers(model.SERVICE)
@strawberry.type(description="An AWS service acting for an account, e.g. config.amazonaws.com.")
class AwsService(Principal):
    @strawberry.field
    def service_principal(self) -> str:
        return self.vertex.key


PrincipalRef = Annotated[Principal, strawberry.lazy("api.graphql.principals")]
