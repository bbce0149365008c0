"""Member accounts of behavior graphs: invitations, their answers, monitoring, removal.

Shared by the Detective-compatible REST API and the GraphQL mutations. Status machine (Amazon
Detective's): CreateMembers → INVITED (invitation accounts; no mail is sent, the member finds the
invitation with ListInvitations) or, for organization accounts in the organization graph, straight
to ENABLED; VERIFICATION_FAILED for a malformed account id or email. AcceptInvitation → ENABLED,
or ACCEPTED_BUT_DISABLED when the daily volume check fails (see membership_volume), from where
StartMonitoringMember tries again. RejectInvitation, DisassociateMembership and DeleteMembers
remove the record, and with it ingestion of the account. Loaders read ENABLED members to decide
whose records a graph takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from api.auth import Caller
from api.services.errors import NotFound
from api.services.membership_checks import (
    caller_account,
    check_graph_arn,
    graph_lock,
    valid_account,
    valid_email,
)
from api.services.membership_errors import Conflict, InvalidRequest, QuotaExceeded
from api.services.membership_graphs import admin_graph, find_graph, graph_packages, org_graph
from api.services.membership_settings import MembershipSettings
from api.services.membership_volume import member_packages, usage_by_account, verdict
from graph.membership import (
    ACCEPTED_BUT_DISABLED,
    ENABLED,
    INVITATION,
    INVITED,
    ORGANIZATION,
    VERIFICATION_FAILED,
    Member,
    PackageState,
    VolumeUsage,
)
from graph.store import GraphInfo, GraphNotFound, GraphStore

MAX_ACCOUNTS = 50


@dataclass(frozen=True, slots=True)
class Unprocessed:
    key: str  # account id, or graph ARN
    reason: str


@dataclass(frozen=True, slots=True)
class MemberView:
    """A member record with its administrator and measured volume (Detective's MemberDetail)."""

    member: Member
    admin_account: str
    usage: dict[str, VolumeUsage] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Datasources:
    """One account's package history in one graph (MembershipDatasources)."""

    account_id: str
    graph: str
    packages: dict[str, PackageState]


def _views(
    store: GraphStore, info: GraphInfo, members: Sequence[Member], now: int
) -> list[MemberView]:
    usage = usage_by_account(store=store, graph=info.arn, now=now) if members else {}
    return [MemberView(m, info.admin_account, usage.get(m.account_id, {})) for m in members]


def _check_count(accounts: Sequence[object], what: str, limit: int = MAX_ACCOUNTS) -> None:
    if not 1 <= len(accounts) <= limit:
        raise InvalidRequest(f"{what} takes 1 to {limit} items, not {len(accounts)}")


def _enabled(
    store: GraphStore,
    info: GraphInfo,
    m: Member,
    settings: MembershipSettings,
    now: int,
) -> Member:
    """`m` after the volume check: ENABLED, or ACCEPTED_BUT_DISABLED with the reason."""
    status, reason = verdict(
        store=store, graph=info.arn, account=m.account_id, settings=settings, now=now
    )
    packages = member_packages(
        enabled=status == ENABLED,
        graph_packages=graph_packages(info),
        prior=m.packages,
        now=now,
    )
    return replace(m, status=status, disabled_reason=reason, updated_at=now, packages=packages)


# -- administrator -------------------------------------------------------------------------------
def create_members(
    *,
    store: GraphStore,
    caller: Caller,
    graph: str,
    accounts: Sequence[tuple[str, str | None]],
    settings: MembershipSettings,
    now: int,
) -> tuple[list[MemberView], list[Unprocessed]]:
    """Invite accounts (or enable organization accounts) into the caller's graph."""
    _check_count(accounts, "Accounts")
    info = admin_graph(store=store, caller=caller, arn=graph)
    org = bool(info.props.get("organization"))
    with graph_lock(graph):
        existing = {m.account_id: m for m in store.members(graph)}
        created: list[Member] = []
        unprocessed: list[Unprocessed] = []
        seen: set[str] = set()
        for account, email in accounts:
            if account in seen:
                unprocessed.append(Unprocessed(account, "The account is listed twice"))
                continue
            seen.add(account)
            if account == info.admin_account:
                reason = "The administrator account cannot be a member of its own behavior graph"
                unprocessed.append(Unprocessed(account, reason))
                continue
            old = existing.get(account)
            if old is not None and old.status != VERIFICATION_FAILED:
                reason = f"The account is already a member of the behavior graph ({old.status})"
                unprocessed.append(Unprocessed(account, reason))
                continue
            in_org = org and settings.in_organization(account)
            m = Member(
                graph,
                account,
                email,
                INVITED,
                ORGANIZATION if in_org else INVITATION,
                now,
                now,
            )
            if not valid_account(account) or (not in_org and not valid_email(email)):
                m = replace(m, status=VERIFICATION_FAILED)
            elif in_org:
                m = _enabled(store, info, m, settings, now)
            created.append(m)
        active = sum(m.status != VERIFICATION_FAILED for m in existing.values())
        active += sum(m.status != VERIFICATION_FAILED for m in created)
        if active > settings.max_members:
            raise QuotaExceeded(
                f"a behavior graph has at most {settings.max_members} member accounts",
                [graph.rsplit(":", 1)[-1][:64]],
            )
        store.put_members(graph, created)
    return _views(store, info, created, now), unprocessed


def delete_members(
    *, store: GraphStore, caller: Caller, graph: str, account_ids: Sequence[str]
) -> tuple[list[str], list[Unprocessed]]:
    """Remove members; their records are no longer ingested from the next load on."""
    _check_count(account_ids, "AccountIds")
    info = admin_graph(store=store, caller=caller, arn=graph)
    with graph_lock(graph):
        present = {m.account_id for m in store.members(graph, account_ids)}
        deleted: list[str] = []
        unprocessed: list[Unprocessed] = []
        for a in dict.fromkeys(account_ids):
            if a == info.admin_account:
                reason = "The administrator account cannot be removed: delete the behavior graph"
                unprocessed.append(Unprocessed(a, reason))
            elif a not in present:
                unprocessed.append(Unprocessed(a, "The account is not a member of the graph"))
            else:
                deleted.append(a)
        store.delete_members(graph, deleted)
    return deleted, unprocessed


def get_members(
    *, store: GraphStore, caller: Caller, graph: str, account_ids: Sequence[str], now: int
) -> tuple[list[MemberView], list[Unprocessed]]:
    _check_count(account_ids, "AccountIds")
    info = admin_graph(store=store, caller=caller, arn=graph)
    found = {m.account_id: m for m in store.members(graph, account_ids)}
    missing = [
        Unprocessed(a, "The account is not a member of the graph")
        for a in dict.fromkeys(account_ids)
        if a not in found
    ]
    return _views(store, info, list(found.values()), now), missing


def list_members(*, store: GraphStore, caller: Caller, graph: str, now: int) -> list[MemberView]:
    info = admin_graph(store=store, caller=caller, arn=graph)
    return _views(store, info, store.members(graph), now)


def start_monitoring_member(
    *,
    store: GraphStore,
    caller: Caller,
    graph: str,
    account_id: str,
    settings: MembershipSettings,
    now: int,
) -> MemberView:
    """Try again to enable an ACCEPTED_BUT_DISABLED member; it may stay disabled."""
    info = admin_graph(store=store, caller=caller, arn=graph)
    with graph_lock(graph):
        m = _one(store, graph, account_id)
        if m.status != ACCEPTED_BUT_DISABLED:
            raise Conflict(f"member {account_id} is {m.status}, not ACCEPTED_BUT_DISABLED")
        m = _enabled(store, info, m, settings, now)
        store.put_members(graph, [m])
    return _views(store, info, [m], now)[0]


def _one(store: GraphStore, graph: str, account: str) -> Member:
    try:
        found = store.members(graph, [account])
    except GraphNotFound:
        raise NotFound(f"behavior graph {graph} does not exist") from None
    if not found:
        raise NotFound(f"account {account} is not a member of behavior graph {graph}")
    return found[0]


# -- members -------------------------------------------------------------------------------------
def list_invitations(*, store: GraphStore, caller: Caller, now: int) -> list[MemberView]:
    """The caller's open and accepted invitations (not organization memberships)."""
    account = caller_account(caller, "ListInvitations")
    out = []
    admins = {g.arn: g for g in store.list_graphs()}
    for m in store.memberships(account):
        if (
            m.invitation_type == INVITATION
            and m.status != VERIFICATION_FAILED
            and m.graph in admins
        ):
            out.append(_views(store, admins[m.graph], [m], now)[0])
    return out


def accept_invitation(
    *, store: GraphStore, caller: Caller, graph: str, settings: MembershipSettings, now: int
) -> MemberView:
    account = caller_account(caller, "AcceptInvitation")
    check_graph_arn(graph)
    with graph_lock(graph):
        m = _one(store, graph, account)
        if m.status != INVITED:
            raise Conflict(f"there is no open invitation to {graph}: the membership is {m.status}")
        info = find_graph(store, graph)
        m = _enabled(store, info, m, settings, now)
        store.put_members(graph, [m])
    return _views(store, info, [m], now)[0]


def reject_invitation(*, store: GraphStore, caller: Caller, graph: str) -> None:
    account = caller_account(caller, "RejectInvitation")
    check_graph_arn(graph)
    with graph_lock(graph):
        m = _one(store, graph, account)
        if m.invitation_type == ORGANIZATION:
            raise Conflict("organization accounts cannot reject the organization behavior graph")
        if m.status != INVITED:
            raise Conflict(f"there is no open invitation to {graph}: the membership is {m.status}")
        store.delete_members(graph, [account])


def disassociate_membership(*, store: GraphStore, caller: Caller, graph: str) -> None:
    """Leave a graph; ingestion of the caller's records into it stops."""
    account = caller_account(caller, "DisassociateMembership")
    check_graph_arn(graph)
    with graph_lock(graph):
        m = _one(store, graph, account)
        if m.invitation_type == ORGANIZATION:
            raise Conflict("organization accounts cannot leave the organization behavior graph")
        if m.status not in (ENABLED, ACCEPTED_BUT_DISABLED):
            raise Conflict(f"the membership in {graph} is {m.status}: answer the invitation")
        store.delete_members(graph, [account])


# -- data source packages per member -------------------------------------------------------------
def member_datasources(
    *, store: GraphStore, caller: Caller, graph: str, account_ids: Sequence[str]
) -> tuple[list[Datasources], list[Unprocessed]]:
    """Package histories of members (and of the administrator) of the caller's graph."""
    _check_count(account_ids, "AccountIds", 200)
    info = admin_graph(store=store, caller=caller, arn=graph)
    found = {m.account_id: m for m in store.members(graph, account_ids)}
    out: list[Datasources] = []
    unprocessed: list[Unprocessed] = []
    for a in dict.fromkeys(account_ids):
        if a == info.admin_account:
            out.append(Datasources(a, graph, graph_packages(info)))
        elif a in found:
            out.append(Datasources(a, graph, dict(found[a].packages)))
        else:
            unprocessed.append(Unprocessed(a, "The account is not a member of the graph"))
    return out, unprocessed


def membership_datasources(
    *, store: GraphStore, caller: Caller, graphs: Sequence[str]
) -> tuple[list[Datasources], list[Unprocessed]]:
    """The caller's own package histories in graphs it belongs to or administers."""
    _check_count(graphs, "GraphArns")
    account = caller_account(caller, "BatchGetMembershipDatasources")
    for arn in graphs:
        check_graph_arn(arn)
    mine = {m.graph: m for m in store.memberships(account)}
    infos = {g.arn: g for g in store.list_graphs()}
    out: list[Datasources] = []
    unprocessed: list[Unprocessed] = []
    for arn in dict.fromkeys(graphs):
        info = infos.get(arn)
        if info is not None and info.admin_account == account:
            out.append(Datasources(account, arn, graph_packages(info)))
        elif info is not None and arn in mine:
            out.append(Datasources(account, arn, dict(mine[arn].packages)))
        else:
            unprocessed.append(Unprocessed(arn, "The account is not a member of the graph"))
    return out, unprocessed


# -- organization --------------------------------------------------------------------------------
def enroll_organization(
    *, store: GraphStore, graph: str, settings: MembershipSettings, now: int
) -> list[Member]:
    """Auto-enable: enable organization accounts this graph has not seen yet (an account removed
    with DeleteMembers stays removed until CreateMembers adds it again)."""
    with graph_lock(graph):
        info = find_graph(store, graph)
        if not (info.props.get("organization") and info.props.get("auto_enable")):
            return []
        known = set(info.props.get("known_org_accounts", []))
        members = {m.account_id for m in store.members(graph)}
        new = sorted(settings.org_accounts - known - members - {info.admin_account})
        enrolled = [
            _enabled(
                store, info, Member(graph, a, None, INVITED, ORGANIZATION, now, now), settings, now
            )
            for a in new
        ]
        active = sum(m.status != VERIFICATION_FAILED for m in store.members(graph))
        enrolled = enrolled[: max(0, settings.max_members - active)]
        store.put_members(graph, enrolled)
        seen = sorted(known | {m.account_id for m in enrolled})
        store.update_graph(graph, {**info.props, "known_org_accounts": seen})
    return enrolled


def update_org_config(
    *,
    store: GraphStore,
    caller: Caller,
    graph: str,
    auto_enable: bool,
    settings: MembershipSettings,
    now: int,
) -> None:
    """Set AutoEnable; turning it on enrolls the organization's accounts not seen before."""
    org_graph(store=store, caller=caller, arn=graph)
    with graph_lock(graph):
        info = find_graph(store, graph)
        store.update_graph(graph, {**info.props, "auto_enable": auto_enable})
    if auto_enable:
        enroll_organization(store=store, graph=graph, settings=settings, now=now)
