"""Shared GraphQL types: the entity type enum, graphs, scopes, pages and the Long scalar."""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import NewType

import strawberry

from api.services.scope import Scope as ScopeWindow
from api.services.scope import to_datetime
from baselines.window import TrainingNotice as Notice
from graph import model
from graph.store import GraphInfo


@strawberry.enum(description="Entity types, named after Detective's profile namespaces.")
class EntityType(Enum):
    AWS_ACCOUNT = model.ACCOUNT
    AWS_USER = model.USER
    AWS_ROLE = model.ROLE
    AWS_ROLE_SESSION = model.SESSION
    FEDERATED_USER = model.FEDERATED
    AWS_SERVICE = model.SERVICE
    EC2_INSTANCE = model.INSTANCE
    NETWORK_INTERFACE = model.ENI
    IP_ADDRESS = model.IP
    USER_AGENT = model.AGENT
    S3_BUCKET = model.BUCKET
    FINDING = model.FINDING
    EKS_CLUSTER = model.EKS_CLUSTER
    KUBERNETES_POD = model.POD

    @property
    def label(self) -> str:
        return str(self.value)


def entity_type_of(label: str) -> EntityType:
    return EntityType(label)


Long = NewType("Long", int)
# registered with the schema's config (StrawberryConfig.scalar_map)
LONG_SCALAR = strawberry.scalar(
    name="Long",
    serialize=int,
    parse_value=int,
    description="A 64-bit integer (counts and bytes outgrow GraphQL's 32-bit Int).",
)


@strawberry.type(description="A behavior graph: the data of one administrator account's estate.")
class Graph:
    info: strawberry.Private[GraphInfo]

    @strawberry.field
    def arn(self) -> strawberry.ID:
        return strawberry.ID(self.info.arn)

    @strawberry.field
    def admin_account_id(self) -> str:
        return self.info.admin_account

    @strawberry.field
    def created_time(self) -> datetime:
        return to_datetime(self.info.created)

    @strawberry.field
    def region(self) -> str:
        return self.info.region


@strawberry.type(description="The scope time a panel covers and its baseline window.")
class Scope:
    window: strawberry.Private[ScopeWindow]

    @strawberry.field
    def start(self) -> datetime:
        return to_datetime(self.window.start)

    @strawberry.field
    def end(self) -> datetime:
        return to_datetime(self.window.end)

    @strawberry.field(description="Start of the baseline window: the 45 days before the scope.")
    def baseline_start(self) -> datetime:
        return to_datetime(self.window.baseline_start)


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="Who is asking, as the server authenticated the request.")
class Caller:
    name: str | None = strawberry.field(description="The credentials file section, if any.")
    account_id: str | None
    unrestricted: bool = strawberry.field(description="True only under --no-auth.")


@strawberry.type(
    description="Less than two weeks of history precede the scope: expected values, increased "
    "volume and newly observed behavior are provisional (Detective's 'panel in training')."
)
class TrainingNotice:
    notice: strawberry.Private[Notice]

    @strawberry.field(description="When the entity was first observed; null: never.")
    def history_start(self) -> datetime | None:
        first = self.notice.history_start
        return to_datetime(first) if first is not None else None

    @strawberry.field(description="Days of history in the baseline window before the scope.")
    def history_days(self) -> float:
        return round(self.notice.history_days, 3)

    @strawberry.field(description="Days of history the baselines need (14).")
    def required_days(self) -> int:
        return self.notice.required_days

    @strawberry.field
    def message(self) -> str:
        return self.notice.message


def training_notice(notice: Notice | None) -> TrainingNotice | None:
    return TrainingNotice(notice=notice) if notice is not None else None
