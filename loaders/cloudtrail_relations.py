"""CloudTrail events that describe relationships rather than activity: AssumeRole* (sessions,
their roles and who started or chained them), RunInstances (instances and their interfaces),
CreateNetworkInterface and AttachNetworkInterface (interfaces for VPC flows). Only the request
and response fields these need are decoded, and only for these events.
"""

from __future__ import annotations

from typing import Any

import msgspec

from graph.batch import DeltaBuffer
from graph.model import (
    ACCOUNT,
    ASSUMED_ROLE,
    BELONGS_TO,
    CHAINED_TO,
    ENI,
    HAS_INTERFACE,
    INSTANCE,
    LAUNCHED,
    ROLE,
    SESSION,
    STARTED_SESSION,
    VertexRef,
)
from loaders.cloudtrail import Event
from loaders.identity import Principal, role_name_of_session

__all__ = ["ASSUME_ROLE", "SPECIAL", "decode_body", "params_decoder", "special"]

ASSUME_ROLE = frozenset({"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"})
_NIC_EVENTS = frozenset({"CreateNetworkInterface", "AttachNetworkInterface"})
SPECIAL = ASSUME_ROLE | {"RunInstances", "ConsoleLogin"} | _NIC_EVENTS


class _Params(msgspec.Struct):
    bucketName: str | None = None
    roleArn: str | None = None
    roleSessionName: str | None = None
    networkInterfaceId: str | None = None  # AttachNetworkInterface
    instanceId: str | None = None


class _AssumedRoleUser(msgspec.Struct):
    assumedRoleId: str | None = None
    arn: str | None = None


class _Nic(msgspec.Struct):
    networkInterfaceId: str | None = None


class _Nics(msgspec.Struct):
    items: list[_Nic] = []


class _Attachment(msgspec.Struct):
    instanceId: str | None = None


class _NetworkInterface(msgspec.Struct):
    networkInterfaceId: str | None = None
    vpcId: str | None = None
    subnetId: str | None = None
    ownerId: str | None = None
    attachment: _Attachment | None = None


class _Instance(msgspec.Struct):
    instanceId: str | None = None
    instanceType: str | None = None
    imageId: str | None = None
    vpcId: str | None = None
    subnetId: str | None = None
    networkInterfaceSet: _Nics | None = None


class _Instances(msgspec.Struct):
    items: list[_Instance] = []


class _Response(msgspec.Struct):
    assumedRoleUser: _AssumedRoleUser | None = None
    instancesSet: _Instances | None = None
    ConsoleLogin: str | None = None
    networkInterface: _NetworkInterface | None = None  # CreateNetworkInterface


params_decoder = msgspec.json.Decoder(_Params | None, strict=False)
_response = msgspec.json.Decoder(_Response | None, strict=False)


def special(d: DeltaBuffer, ev: Event, p: Principal, ts: int, ok: bool) -> bool:
    """Add what a relationship event (AssumeRole*, RunInstances, network interfaces) tells;
    returns whether the call succeeded (a failed ConsoleLogin is a failure without errorCode)."""
    resp = (
        decode_body(_response, ev.responseElements, "responseElements")
        if ev.responseElements
        else None
    )
    if ev.eventName == "ConsoleLogin":
        return ok and not (resp and resp.ConsoleLogin == "Failure")
    if not ok or resp is None:
        return ok
    if ev.eventName == "RunInstances" and resp.instancesSet:
        _instances(d, resp.instancesSet.items, p, ts, ev.awsRegion)
    elif ev.eventName in _NIC_EVENTS:
        _interface(d, ev, resp, p, ts)
    elif resp.assumedRoleUser and resp.assumedRoleUser.assumedRoleId:
        params = decode_body(params_decoder, ev.requestParameters, "requestParameters")
        _assumed(d, resp.assumedRoleUser, params, p, ts, ev.eventName or "")
    return ok


def _assumed(
    d: DeltaBuffer, user: _AssumedRoleUser, params: _Params | None, p: Principal, ts: int, how: str
) -> None:
    session_key = user.assumedRoleId or ""
    role_pid, _, session_name = session_key.partition(":")
    if not session_name:
        return
    role_arn = params.roleArn if params else None
    role_account = _arn_account(role_arn) or _arn_account(user.arn)
    role_name = role_arn.rsplit("/", 1)[-1] if role_arn else role_name_of_session(user.arn)
    session, role = VertexRef(SESSION, session_key), VertexRef(ROLE, role_pid)
    d.vertex(
        session,
        ts,
        ts,
        {
            "name": session_name,
            "arn": user.arn,
            "role_arn": role_arn,
            "role_name": role_name,
            "account": role_account,
        },
    )
    d.vertex(role, ts, ts, {"name": role_name, "arn": role_arn, "account": role_account})
    d.edge(ASSUMED_ROLE, session, role, ts, (1,))
    if role_account:
        acct = VertexRef(ACCOUNT, role_account)
        d.edge(BELONGS_TO, session, acct, ts, (1,))
        d.edge(BELONGS_TO, role, acct, ts, (1,))
    caller = p.leaf or (VertexRef(ACCOUNT, p.account) if p.account else None)
    if caller is not None and caller != session:
        label = CHAINED_TO if caller.label == SESSION else STARTED_SESSION
        d.edge(label, caller, session, ts, (1,), qualifier=how)


def _instances(
    d: DeltaBuffer, items: list[_Instance], p: Principal, ts: int, region: str | None
) -> None:
    for item in items:
        if not item.instanceId:
            continue
        inst = VertexRef(INSTANCE, item.instanceId)
        account = p.account
        arn = (
            f"arn:aws:ec2:{region}:{account}:instance/{item.instanceId}"
            if region and account
            else None
        )
        d.vertex(
            inst,
            ts,
            ts,
            {
                "arn": arn,
                "account": account,
                "region": region,
                "instance_type": item.instanceType,
                "image_id": item.imageId,
                "vpc_id": item.vpcId,
                "subnet_id": item.subnetId,
            },
        )
        if p.leaf is not None:
            d.edge(LAUNCHED, p.leaf, inst, ts, (1,))
        if account:
            d.edge(BELONGS_TO, inst, VertexRef(ACCOUNT, account), ts, (1,))
        nics = item.networkInterfaceSet.items if item.networkInterfaceSet else []
        for nic in nics:
            if nic.networkInterfaceId:
                eni = VertexRef("NetworkInterface", nic.networkInterfaceId)
                d.vertex(
                    eni,
                    ts,
                    ts,
                    {
                        "account": account,
                        "vpc_id": item.vpcId,
                        "subnet_id": item.subnetId,
                        "region": region,
                    },
                )
                d.edge(HAS_INTERFACE, inst, eni, ts, (1,))


def _interface(d: DeltaBuffer, ev: Event, resp: _Response, p: Principal, ts: int) -> None:
    """CreateNetworkInterface (the interface, attached if the response says so) and
    AttachNetworkInterface (instance and interface from the request): for VPC flows."""
    nic = resp.networkInterface
    params = (
        decode_body(params_decoder, ev.requestParameters, "requestParameters")
        if nic is None
        else None
    )
    eni_id = nic.networkInterfaceId if nic else params.networkInterfaceId if params else None
    if not eni_id:
        return
    account = (nic.ownerId if nic else None) or p.account
    props: dict[str, Any] = {"account": account, "region": ev.awsRegion}
    if nic:
        props |= {"vpc_id": nic.vpcId, "subnet_id": nic.subnetId}
    eni = VertexRef(ENI, eni_id)
    d.vertex(eni, ts, ts, props)
    if account:
        d.edge(BELONGS_TO, eni, VertexRef(ACCOUNT, account), ts, (1,))
    attached = nic.attachment if nic else None
    instance = attached.instanceId if attached else params.instanceId if params else None
    if instance:
        d.edge(HAS_INTERFACE, VertexRef(INSTANCE, instance), eni, ts, (1,))


_json_string = msgspec.json.Decoder(str)


def _arn_account(arn: str | None) -> str | None:
    parts = arn.split(":") if arn else []
    return parts[4] or None if len(parts) >= 6 else None


def decode_body(decoder: msgspec.json.Decoder[Any], raw: msgspec.Raw, field: str) -> Any:
    data = bytes(raw)
    try:
        if data[:1] == b'"':  # log pipelines sometimes store the body as a JSON string
            data = _json_string.decode(data).encode()
        return decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ValueError(f"{field}: {e}") from None
