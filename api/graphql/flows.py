"""Overall VPC flow volume as GraphQL types: hourly bytes in and out, and activity rows.

Each hour carries its baseline (expected, lower and upper bytes in and out, from the baselines
package through the `vpc_flow_baseline` loader), read only when the response asks for it.
"""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.context import Info, selects
from api.graphql.loaders import load
from api.graphql.types import Long, Scope, TrainingNotice, training_notice
from api.services import flows
from api.services.scope import to_datetime
from baselines.flow_volume import FlowBaseline
from graph.model import VertexRef

BUCKET_BASELINE = frozenset(
    {
        "expectedBytesIn", "lowerBytesIn", "upperBytesIn",
        "expectedBytesOut", "lowerBytesOut", "upperBytesOut",
        "expected", "lower", "upper",
    }
)  # fmt: skip


def _time(ts: int) -> datetime | None:
    return to_datetime(ts) if ts else None


@strawberry.type(description="One hour of VPC flow traffic, from the profiled entity's side.")
class VpcFlowBucket:
    start: datetime
    bytes_in: Long
    bytes_out: Long
    packets_in: Long
    packets_out: Long
    expected_bytes_in: float | None = strawberry.field(
        default=None,
        description="Expected bytes in for this hour of the week, from the 45 days before the "
        "scope; null without any history.",
    )
    lower_bytes_in: float | None = None
    upper_bytes_in: float | None = strawberry.field(
        default=None, description="Upper bound of bytes in: more is unusual for this hour."
    )
    expected_bytes_out: float | None = strawberry.field(
        default=None, description="Expected bytes out for this hour of the week."
    )
    lower_bytes_out: float | None = None
    upper_bytes_out: float | None = None
    expected: float | None = strawberry.field(
        default=None,
        description="Expected bytes (in + out) for this hour of the week, fitted on the total "
        "series itself; null without any history.",
    )
    lower: float | None = strawberry.field(
        default=None, description="Lower bound of all bytes (in + out) for this hour."
    )
    upper: float | None = strawberry.field(
        default=None, description="Upper bound of all bytes (in + out): more is unusual."
    )


def _bucket(h: flows.FlowHour) -> VpcFlowBucket:
    return VpcFlowBucket(
        start=to_datetime(h.start),
        bytes_in=Long(h.bytes_in),
        bytes_out=Long(h.bytes_out),
        packets_in=Long(h.packets_in),
        packets_out=Long(h.packets_out),
    )


@strawberry.type(description="Traffic of one (peer, protocol, ports, direction, action).")
class VpcFlowRow:
    row: strawberry.Private[flows.FlowRow]

    @strawberry.field(description="The remote address (instance profiles).")
    def remote_ip_address(self) -> str | None:
        return self.row.peer.key if self.row.peer.label == "IpAddress" else None

    @strawberry.field(description="The interface that carried the traffic (address profiles).")
    def interface_id(self) -> str | None:
        return self.row.peer.key if self.row.peer.label == "NetworkInterface" else None

    @strawberry.field(description="The interface's instance (address profiles).")
    def instance_id(self) -> str | None:
        return self.row.instance

    @strawberry.field
    def protocol(self) -> str:
        return self.row.protocol

    @strawberry.field(description="The interface's port; '-' when the log format lacks it.")
    def local_port(self) -> str:
        return self.row.local_port

    @strawberry.field
    def remote_port(self) -> str:
        return self.row.remote_port

    @strawberry.field(description="ingress or egress, from the profiled entity's side.")
    def direction(self) -> str:
        return self.row.direction

    @strawberry.field(description="ACCEPT or REJECT.")
    def action(self) -> str:
        return self.row.action

    @strawberry.field
    def bytes_in(self) -> Long:
        return Long(self.row.totals.bytes_in)

    @strawberry.field
    def bytes_out(self) -> Long:
        return Long(self.row.totals.bytes_out)

    @strawberry.field
    def packets_in(self) -> Long:
        return Long(self.row.totals.packets_in)

    @strawberry.field
    def packets_out(self) -> Long:
        return Long(self.row.totals.packets_out)

    @strawberry.field
    def first_observed(self) -> datetime | None:
        return _time(self.row.first)

    @strawberry.field
    def last_observed(self) -> datetime | None:
        return _time(self.row.last)


@strawberry.type(description="Overall VPC flow volume: hourly bytes in and out, and rows.")
class VpcFlowVolume:
    data: strawberry.Private[flows.VpcFlowVolume]
    graph_arn: strawberry.Private[str]
    ref: strawberry.Private[VertexRef]

    async def _baseline(self, info: Info) -> FlowBaseline | None:
        found = await load(
            info.context.loaders.vpc_flow_baseline, self.graph_arn, self.ref, self.data.scope
        )
        return found if isinstance(found, FlowBaseline) else None

    @strawberry.field
    def scope(self) -> Scope:
        return Scope(window=self.data.scope)

    @strawberry.field
    def total_bytes_in(self) -> Long:
        return Long(self.data.totals.bytes_in)

    @strawberry.field
    def total_bytes_out(self) -> Long:
        return Long(self.data.totals.bytes_out)

    @strawberry.field(description="Every hour of the scope, oldest first.")
    async def buckets(self, info: Info) -> list[VpcFlowBucket]:
        out = [_bucket(h) for h in self.data.buckets]
        if selects(info, BUCKET_BASELINE):
            base = await self._baseline(info)
            for bucket, b in zip(out, base.buckets if base else (), strict=False):
                bucket.expected_bytes_in, bucket.expected_bytes_out = b.expected_in, b.expected_out
                bucket.lower_bytes_in, bucket.lower_bytes_out = b.lower_in, b.lower_out
                bucket.upper_bytes_in, bucket.upper_bytes_out = b.upper_in, b.upper_out
                bucket.expected, bucket.lower, bucket.upper = b.expected, b.lower, b.upper
        return out

    @strawberry.field(
        description="Set when less than two weeks of history precede the scope: the baseline "
        "values are then provisional."
    )
    async def training_notice(self, info: Info) -> TrainingNotice | None:
        base = await self._baseline(info)
        return training_notice(base.training) if base else None

    @strawberry.field(description="Activity rows, most bytes first.")
    def rows(self) -> list[VpcFlowRow]:
        return [VpcFlowRow(row=r) for r in self.data.rows]
