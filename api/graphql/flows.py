"""Overall VPC flow volume as GraphQL types: hourly bytes in and out, and activity rows."""

# strawberry.field(...) called with arguments is typed as returning Any
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.types import Long, Scope
from api.services import flows
from api.services.scope import to_datetime


def _time(ts: int) -> datetime | None:
    return to_datetime(ts) if ts else None


@strawberry.type(description="One hour of VPC flow traffic, from the profiled entity's side.")
class VpcFlowBucket:
    start: datetime
    bytes_in: Long
    bytes_out: Long
    packets_in: Long
    packets_out: Long


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
    def buckets(self) -> list[VpcFlowBucket]:
        return [_bucket(h) for h in self.data.buckets]

    @strawberry.field(description="Activity rows, most bytes first.")
    def rows(self) -> list[VpcFlowRow]:
        return [VpcFlowRow(row=r) for r in self.data.rows]
