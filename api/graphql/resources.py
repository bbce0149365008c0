"""Resources: EC2 instances, IP addresses, user agents and S3 buckets.

An instance is also a principal (its API calls are those of its instance-profile sessions). An
instance and an address have the VPC flow volume panel; an address, a user agent and a bucket
have the API call volume of the principals that used them.
"""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.context import Info, ScopeInput
from api.graphql.entities import Entity, account_field, account_id_field, prop, registers
from api.graphql.flows import VpcFlowVolume
from api.graphql.loaders import load
from api.graphql.principals import ApiActivity, AwsAccount, Principal
from api.services.scope import to_datetime
from graph import model


@strawberry.interface(description="An entity with VPC flow logs: an instance or an address.")
class FlowActivity(Entity):
    @strawberry.field(
        description="Overall VPC flow volume in the scope (default: the last 24 hours): hourly "
        "bytes in and out, and one row per peer, protocol, ports, direction and action. An "
        "instance's traffic is its network interfaces', each counted only from the hour it was "
        "first seen attached to the instance until it was seen on another instance."
    )
    async def vpc_flow_volume(self, info: Info, scope: ScopeInput | None = None) -> VpcFlowVolume:
        data = await load(
            info.context.loaders.vpc_flow_volume,
            self.graph_arn,
            self.vertex.ref,
            info.context.scope(scope),
        )
        return VpcFlowVolume(data=data, graph_arn=self.graph_arn, ref=self.vertex.ref)


@registers(model.INSTANCE)
@strawberry.type(description="An EC2 instance.")
class Ec2Instance(Principal, FlowActivity):
    account_id: str | None = account_id_field()
    account: AwsAccount | None = account_field()

    @strawberry.field
    def instance_id(self) -> str:
        return self.vertex.key

    @strawberry.field
    def arn(self) -> str | None:
        return prop(self.vertex, "arn")

    @strawberry.field
    def region(self) -> str | None:
        return prop(self.vertex, "region")

    @strawberry.field
    def instance_type(self) -> str | None:
        return prop(self.vertex, "instance_type")

    @strawberry.field
    def image_id(self) -> str | None:
        return prop(self.vertex, "image_id")

    @strawberry.field
    def vpc_id(self) -> str | None:
        return prop(self.vertex, "vpc_id")

    @strawberry.field
    def subnet_id(self) -> str | None:
        return prop(self.vertex, "subnet_id")


@registers(model.IP)
@strawberry.type(description="An IPv4 or IPv6 address with its offline geolocation and ASO.")
class IpAddress(ApiActivity, FlowActivity):
    @strawberry.field
    def address(self) -> str:
        return self.vertex.key

    @strawberry.field(description="4 or 6.")
    def version(self) -> int | None:
        value = self.vertex.props.get("version")
        return value if isinstance(value, int) else None

    @strawberry.field(description="public, private, reserved, ...")
    def kind(self) -> str | None:
        return prop(self.vertex, "kind")

    @strawberry.field(description="ISO 3166 country code.")
    def country(self) -> str | None:
        return prop(self.vertex, "country")

    @strawberry.field
    def city(self) -> str | None:
        return prop(self.vertex, "city")

    @strawberry.field
    def asn(self) -> int | None:
        value = self.vertex.props.get("asn")
        return value if isinstance(value, int) else None

    @strawberry.field(description="The autonomous system organization.")
    def aso(self) -> str | None:
        return prop(self.vertex, "aso")


@registers(model.AGENT)
@strawberry.type(description="A user-agent string as CloudTrail recorded it.")
class UserAgent(ApiActivity):
    @strawberry.field
    def user_agent(self) -> str:
        return self.vertex.key


@registers(model.BUCKET)
@strawberry.type(
    description="An S3 bucket; a bucket deleted and recreated under its name is one entity."
)
class S3Bucket(ApiActivity):
    account_id: str | None = account_id_field()
    account: AwsAccount | None = account_field()

    @strawberry.field
    def name(self) -> str:
        return self.vertex.key

    @strawberry.field
    def arn(self) -> str | None:
        return prop(self.vertex, "arn")

    @strawberry.field(description="The first creation the graph saw.")
    def created_time(self) -> datetime | None:
        value = self.vertex.props.get("created")
        return to_datetime(value) if isinstance(value, int) else None

    @strawberry.field(description="The latest deletion the graph saw.")
    def deleted_time(self) -> datetime | None:
        value = self.vertex.props.get("deleted")
        return to_datetime(value) if isinstance(value, int) else None
