"""GuardDuty findings, the entities they involve, and finding groups."""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

import json
from datetime import datetime

import strawberry

from api.graphql.context import Info
from api.graphql.entities import Entity, account_field, account_id_field, entity_of, prop, registers
from api.graphql.loaders import load
from api.graphql.principals import AwsAccount
from api.services.scope import to_datetime
from graph import model
from graph.store import Vertex


def _time(vertex: Vertex, name: str) -> datetime | None:
    value = vertex.props.get(name)
    return to_datetime(value) if isinstance(value, int) else None


def _float(vertex: Vertex, name: str) -> float | None:
    value = vertex.props.get(name)
    return float(value) if isinstance(value, int | float) else None


@strawberry.type(description="An entity a finding involves, with its role in the finding.")
class InvolvedEntity:
    role: str = strawberry.field(
        description="GuardDuty's resource role ('target', 'actor'), or 'remote' for remote "
        "addresses."
    )
    entity: Entity


@registers(model.FINDING)
@strawberry.type(
    description="A GuardDuty finding. firstObserved/lastObserved are its activity window."
)
class Finding(Entity):
    account_id: str | None = account_id_field()
    account: AwsAccount | None = account_field()

    @strawberry.field
    def arn(self) -> str | None:
        return prop(self.vertex, "arn")

    @strawberry.field(
        description="GuardDuty's finding type, e.g. Recon:EC2/PortProbeUnprotectedPort"
    )
    def finding_type(self) -> str | None:
        return prop(self.vertex, "type")

    @strawberry.field(description="GuardDuty severity, 0.0 to 10.0.")
    def severity(self) -> float | None:
        return _float(self.vertex, "severity")

    @strawberry.field
    def title(self) -> str | None:
        return prop(self.vertex, "title")

    @strawberry.field
    def description(self) -> str | None:
        return prop(self.vertex, "description")

    @strawberry.field
    def region(self) -> str | None:
        return prop(self.vertex, "region")

    @strawberry.field
    def created_at(self) -> datetime | None:
        return _time(self.vertex, "created")

    @strawberry.field
    def updated_at(self) -> datetime | None:
        return _time(self.vertex, "updated")

    @strawberry.field(description="GuardDuty's own occurrence count.")
    def count(self) -> int | None:
        value = self.vertex.props.get("count")
        return value if isinstance(value, int) else None

    @strawberry.field
    def archived(self) -> bool:
        return self.vertex.props.get("archived") is True

    @strawberry.field(description="GuardDuty's sample-finding flag.")
    def sample(self) -> bool:
        return self.vertex.props.get("sample") is True

    @strawberry.field(description="The entities the finding involves.")
    async def involved_entities(self, info: Info) -> list[InvolvedEntity]:
        rows = await load(info.context.loaders.involved_entities, self.graph_arn, self.vertex.ref)
        return [
            InvolvedEntity(role=r.role, entity=entity_of(self.graph_arn, r.vertex))
            for r in rows
            if r.vertex.label in _ENTITY_LABELS
        ]


_ENTITY_LABELS = frozenset(
    label for label in model.VERTEX_TYPES if label not in (model.API, model.GEO, model.ASO)
) - {model.FINDING_GROUP}


def _json_list(vertex: Vertex, name: str) -> list[str]:
    raw = vertex.props.get(name)
    try:
        value = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


@strawberry.type(
    description="Findings linked by shared entities close in time. A group merged into a child "
    "group is INACTIVE and names the child."
)
class FindingGroup:
    graph_arn: strawberry.Private[str]
    vertex: strawberry.Private[Vertex]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.vertex.key)

    @strawberry.field
    def title(self) -> str | None:
        return prop(self.vertex, "title")

    @strawberry.field(description="The highest severity of its findings (0.0 to 10.0).")
    def severity(self) -> float | None:
        return _float(self.vertex, "severity")

    @strawberry.field(description="Critical, High, Medium, Low or Informational.")
    def severity_label(self) -> str | None:
        return prop(self.vertex, "severity_label")

    @strawberry.field(description="MITRE ATT&CK tactics in kill-chain order.")
    def tactics(self) -> list[str]:
        return _json_list(self.vertex, "tactics")

    @strawberry.field(description="ACTIVE, or INACTIVE once merged into a child group.")
    def status(self) -> str:
        return prop(self.vertex, "status") or "ACTIVE"

    @strawberry.field(description="The groups this one merged.")
    def parent_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(p) for p in _json_list(self.vertex, "parents")]

    @strawberry.field(description="The group this one merged into.")
    def child_id(self) -> strawberry.ID | None:
        child = prop(self.vertex, "child")
        return strawberry.ID(child) if child else None

    @strawberry.field
    def created_time(self) -> datetime | None:
        return _time(self.vertex, "created")

    @strawberry.field(description="From the earliest to the latest activity of its findings.")
    def first_observed(self) -> datetime:
        return to_datetime(self.vertex.first)

    @strawberry.field
    def last_observed(self) -> datetime:
        return to_datetime(self.vertex.last)

    @strawberry.field
    def account_ids(self) -> list[str]:
        return _json_list(self.vertex, "accounts")

    @strawberry.field(description="Its findings, most severe first.")
    async def findings(self, info: Info) -> list[Finding]:
        rows = await load(info.context.loaders.group_findings, self.graph_arn, self.vertex.ref)
        return [Finding(graph_arn=self.graph_arn, vertex=v) for v in rows]
