"""REST handlers of member accounts and invitations (thin: input → api.services.membership →
Detective's output shapes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.rest.protocol import Call, iso
from api.services import membership
from api.services.membership import Datasources, MemberView, Unprocessed
from api.services.membership_checks import page
from graph.membership import PackageState


def member_detail(view: MemberView, cap: int) -> dict[str, Any]:
    m = view.member
    out: dict[str, Any] = {
        "AccountId": m.account_id,
        "GraphArn": m.graph,
        "AdministratorId": view.admin_account,
        "MasterId": view.admin_account,
        "Status": m.status,
        "InvitationType": m.invitation_type,
        "InvitedTime": iso(m.invited_at),
        "UpdatedTime": iso(m.updated_at),
    }
    if m.email:
        out["EmailAddress"] = m.email
    if m.disabled_reason:
        out["DisabledReason"] = m.disabled_reason
    if m.packages:
        out["DatasourcePackageIngestStates"] = {p: s.state for p, s in m.packages.items()}
    if view.usage:
        out["VolumeUsageByDatasourcePackage"] = {
            p: {"VolumeUsageInBytes": u.ingested, "VolumeUsageUpdateTime": iso(u.updated)}
            for p, u in view.usage.items()
        }
        total = sum(u.ingested for u in view.usage.values())
        updated = max(u.updated for u in view.usage.values())
        out["VolumeUsageInBytes"] = total
        out["VolumeUsageUpdatedTime"] = iso(updated)
        out["PercentOfGraphUtilization"] = 100.0 * total / cap if cap else 0.0
        out["PercentOfGraphUtilizationUpdatedTime"] = iso(updated)
    return out


def unprocessed_accounts(items: Sequence[Unprocessed]) -> list[dict[str, str]]:
    return [{"AccountId": u.key, "Reason": u.reason} for u in items]


def history(packages: dict[str, PackageState]) -> dict[str, Any]:
    return {
        p: {state: {"Timestamp": iso(ts)} for state, ts in s.changed.items()}
        for p, s in packages.items()
    }


def datasources(items: Sequence[Datasources]) -> list[dict[str, Any]]:
    return [
        {
            "AccountId": d.account_id,
            "GraphArn": d.graph,
            "DatasourcePackageIngestHistory": history(d.packages),
        }
        for d in items
    ]


def create_members(c: Call) -> dict[str, Any]:
    p = c.params
    accounts = [(a["AccountId"], a.get("EmailAddress")) for a in p["Accounts"]]
    # Message and DisableEmailNotification are accepted: invitations are records, not mail
    views, unprocessed = membership.create_members(
        store=c.store,
        caller=c.caller,
        graph=p["GraphArn"],
        accounts=accounts,
        settings=c.settings,
        now=c.now,
    )
    return {
        "Members": [member_detail(v, c.settings.volume_cap) for v in views],
        "UnprocessedAccounts": unprocessed_accounts(unprocessed),
    }


def delete_members(c: Call) -> dict[str, Any]:
    deleted, unprocessed = membership.delete_members(
        store=c.store,
        caller=c.caller,
        graph=c.params["GraphArn"],
        account_ids=c.params["AccountIds"],
    )
    return {"AccountIds": deleted, "UnprocessedAccounts": unprocessed_accounts(unprocessed)}


def get_members(c: Call) -> dict[str, Any]:
    views, unprocessed = membership.get_members(
        store=c.store,
        caller=c.caller,
        graph=c.params["GraphArn"],
        account_ids=c.params["AccountIds"],
        now=c.now,
    )
    return {
        "MemberDetails": [member_detail(v, c.settings.volume_cap) for v in views],
        "UnprocessedAccounts": unprocessed_accounts(unprocessed),
    }


def list_members(c: Call) -> dict[str, Any]:
    views = membership.list_members(
        store=c.store, caller=c.caller, graph=c.params["GraphArn"], now=c.now
    )
    chunk, token = page(
        views,
        lambda v: v.member.account_id,
        token=c.params.get("NextToken"),
        max_results=c.params.get("MaxResults"),
    )
    out: dict[str, Any] = {
        "MemberDetails": [member_detail(v, c.settings.volume_cap) for v in chunk]
    }
    if token:
        out["NextToken"] = token
    return out


def list_invitations(c: Call) -> dict[str, Any]:
    views = membership.list_invitations(store=c.store, caller=c.caller, now=c.now)
    chunk, token = page(
        views,
        lambda v: v.member.graph,
        token=c.params.get("NextToken"),
        max_results=c.params.get("MaxResults"),
    )
    out: dict[str, Any] = {"Invitations": [member_detail(v, c.settings.volume_cap) for v in chunk]}
    if token:
        out["NextToken"] = token
    return out


def accept_invitation(c: Call) -> None:
    membership.accept_invitation(
        store=c.store, caller=c.caller, graph=c.params["GraphArn"], settings=c.settings, now=c.now
    )


def reject_invitation(c: Call) -> None:
    membership.reject_invitation(store=c.store, caller=c.caller, graph=c.params["GraphArn"])


def disassociate_membership(c: Call) -> None:
    membership.disassociate_membership(store=c.store, caller=c.caller, graph=c.params["GraphArn"])


def start_monitoring_member(c: Call) -> None:
    membership.start_monitoring_member(
        store=c.store,
        caller=c.caller,
        graph=c.params["GraphArn"],
        account_id=c.params["AccountId"],
        settings=c.settings,
        now=c.now,
    )


def batch_get_graph_member_datasources(c: Call) -> dict[str, Any]:
    found, unprocessed = membership.member_datasources(
        store=c.store,
        caller=c.caller,
        graph=c.params["GraphArn"],
        account_ids=c.params["AccountIds"],
    )
    return {
        "MemberDatasources": datasources(found),
        "UnprocessedAccounts": unprocessed_accounts(unprocessed),
    }


def batch_get_membership_datasources(c: Call) -> dict[str, Any]:
    found, unprocessed = membership.membership_datasources(
        store=c.store, caller=c.caller, graphs=c.params["GraphArns"]
    )
    return {
        "MembershipDatasources": datasources(found),
        "UnprocessedGraphs": [{"GraphArn": u.key, "Reason": u.reason} for u in unprocessed],
    }


HANDLERS = {
    "CreateMembers": create_members,
    "DeleteMembers": delete_members,
    "GetMembers": get_members,
    "ListMembers": list_members,
    "ListInvitations": list_invitations,
    "AcceptInvitation": accept_invitation,
    "RejectInvitation": reject_invitation,
    "DisassociateMembership": disassociate_membership,
    "StartMonitoringMember": start_monitoring_member,
    "BatchGetGraphMemberDatasources": batch_get_graph_member_datasources,
    "BatchGetMembershipDatasources": batch_get_membership_datasources,
}
