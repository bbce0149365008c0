"""Behavior graphs as Detective manages them: create, delete, list, tags, data source packages and
the organization's administrator.

Graph properties (GraphInfo.props) hold what is not membership of one account: `tags`,
`packages` (graph-level ingest state and history), `organization` (the organization graph),
`auto_enable` and `known_org_accounts` (organization accounts auto-enable has already seen).
A graph made by CreateGraph takes only its administrator's and its enabled members' records; one
made by `gumshoe load` keeps taking every account.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from api.auth import Caller, Identity
from api.services.errors import AccessDenied, NotFound
from api.services.membership_checks import (
    arn_account,
    arn_region,
    caller_account,
    check_graph_arn,
    graph_lock,
    require_admin,
    valid_account,
)
from api.services.membership_errors import InvalidRequest, QuotaExceeded
from api.services.membership_settings import MembershipSettings
from api.services.membership_volume import graph_daily_volume, restart_member_packages
from graph.membership import (
    DETECTIVE_CORE,
    PACKAGES,
    STARTED,
    STOPPED,
    OrgAdmin,
    PackageState,
    graph_arn,
    packages_from_json,
)
from graph.store import GraphInfo, GraphNotFound, GraphStore

MAX_TAGS = 50


def find_graph(store: GraphStore, arn: str) -> GraphInfo:
    for g in store.list_graphs():
        if g.arn == arn:
            return g
    raise NotFound(f"behavior graph {arn} does not exist")


def admin_graph(*, store: GraphStore, caller: Caller, arn: str) -> GraphInfo:
    """The graph, when the caller administers it: AccessDenied first, then NotFound."""
    check_graph_arn(arn)
    require_admin(caller, arn)
    return find_graph(store, arn)


def graph_packages(info: GraphInfo) -> dict[str, PackageState]:
    """The graph's package states; a graph made by a load has only DETECTIVE_CORE started."""
    stored = packages_from_json(info.props.get("packages", {}))
    out = {}
    for p in PACKAGES:
        default = PackageState(STARTED, {STARTED: info.created}) if p == DETECTIVE_CORE else None
        state = stored.get(p) or default or PackageState(STOPPED, {STOPPED: info.created})
        out[p] = state
    return out


def _packages_json(packages: Mapping[str, PackageState]) -> dict[str, Any]:
    return {p: {"state": s.state, "changed": dict(s.changed)} for p, s in packages.items()}


def _update_props(store: GraphStore, arn: str, **changes: Any) -> GraphInfo:
    """Read-modify-write of graph properties; call under graph_lock(arn)."""
    info = find_graph(store, arn)
    try:
        return store.update_graph(arn, {**info.props, **changes})
    except GraphNotFound:
        raise NotFound(f"behavior graph {arn} does not exist") from None


# -- graphs --------------------------------------------------------------------------------------
def create_graph(
    *,
    store: GraphStore,
    caller: Caller,
    region: str,
    tags: Mapping[str, str] | None,
    now: int,
) -> GraphInfo:
    """The caller's graph in `region`: created, or the existing one (same ARN) with `tags` added."""
    account = caller_account(caller, "CreateGraph")
    arn = graph_arn(account, region)
    with graph_lock(arn):
        existing = next((g for g in store.list_graphs() if g.arn == arn), None)
        if existing is not None:
            if tags:
                merged = {**existing.props.get("tags", {}), **tags}
                _check_tag_count(merged)
                return _update_props(store, arn, tags=merged)
            return existing
        packages = {
            p: PackageState(STARTED if p == DETECTIVE_CORE else STOPPED, {}) for p in PACKAGES
        }
        packages = {p: s.moved_to(s.state, now) for p, s in packages.items()}
        props = {"tags": dict(tags or {}), "packages": _packages_json(packages)}
        info = GraphInfo(arn, account, now, takes_all_accounts=False, props=props)
        return store.create_graph(info)


def delete_graph(*, store: GraphStore, caller: Caller, arn: str) -> None:
    """Expunge the graph: every vertex, edge, count, ledger entry, member and volume row."""
    admin_graph(store=store, caller=caller, arn=arn)
    with graph_lock(arn):
        try:
            store.delete_graph(arn)
        except GraphNotFound:
            raise NotFound(f"behavior graph {arn} does not exist") from None


def list_graphs(*, store: GraphStore, caller: Caller, region: str) -> list[GraphInfo]:
    """The graphs the caller administers in the region, ordered by ARN."""
    return [
        g
        for g in store.list_graphs()
        if g.region == region and caller.administers(arn_account(g.arn))
    ]


# -- tags ----------------------------------------------------------------------------------------
def _check_tag_count(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidRequest(f"a behavior graph has at most {MAX_TAGS} tags, not {len(tags)}")


def list_tags(*, store: GraphStore, caller: Caller, arn: str) -> dict[str, str]:
    info = admin_graph(store=store, caller=caller, arn=arn)
    return dict(info.props.get("tags", {}))


def tag_resource(*, store: GraphStore, caller: Caller, arn: str, tags: Mapping[str, str]) -> None:
    admin_graph(store=store, caller=caller, arn=arn)
    with graph_lock(arn):
        merged = {**find_graph(store, arn).props.get("tags", {}), **tags}
        _check_tag_count(merged)
        _update_props(store, arn, tags=merged)


def untag_resource(*, store: GraphStore, caller: Caller, arn: str, keys: Sequence[str]) -> None:
    admin_graph(store=store, caller=caller, arn=arn)
    with graph_lock(arn):
        tags = dict(find_graph(store, arn).props.get("tags", {}))
        for k in keys:
            tags.pop(k, None)
        _update_props(store, arn, tags=tags)


# -- data source packages ------------------------------------------------------------------------
def list_datasource_packages(
    *, store: GraphStore, caller: Caller, arn: str
) -> dict[str, PackageState]:
    return graph_packages(admin_graph(store=store, caller=caller, arn=arn))


def update_datasource_packages(
    *,
    store: GraphStore,
    caller: Caller,
    arn: str,
    packages: Sequence[str],
    settings: MembershipSettings,
    now: int,
) -> None:
    """Start packages (there is no stop call in Detective's API); enabled members start them
    too. Refused with ServiceQuotaExceeded when the graph is over its daily volume."""
    admin_graph(store=store, caller=caller, arn=arn)
    unknown = sorted(set(packages) - set(PACKAGES))
    if unknown:
        raise InvalidRequest(f"unknown data source packages: {', '.join(unknown)}")
    with graph_lock(arn):
        info = find_graph(store, arn)
        if graph_daily_volume(store=store, graph=arn, now=now) > settings.volume_cap:
            raise QuotaExceeded(
                f"behavior graph {arn} is over its daily volume of {settings.volume_cap} bytes",
                [arn.rsplit(":", 1)[-1][:64]],
            )
        states = graph_packages(info)
        for p in packages:
            states[p] = states[p].moved_to(STARTED, now)
        _update_props(store, arn, packages=_packages_json(states))
        restart_member_packages(store=store, graph=arn, packages=states, now=now)


# -- organization --------------------------------------------------------------------------------
def _management(caller: Caller, settings: MembershipSettings, action: str) -> None:
    account = caller_account(caller, action)
    if settings.org_management_account != account:
        raise AccessDenied(f"{action}: only the organization's management account may call it")


def enable_org_admin(
    *,
    store: GraphStore,
    caller: Caller,
    account: str,
    region: str,
    settings: MembershipSettings,
    now: int,
) -> OrgAdmin:
    """Name the organization's Detective administrator in the region, creating its graph."""
    _management(caller, settings, "EnableOrganizationAdminAccount")
    if not valid_account(account):
        raise InvalidRequest(f"AccountId must be 12 digits, not {account!r}")
    if not settings.in_organization(account):
        raise InvalidRequest(f"account {account} is not in the organization")
    current = next((a for a in store.org_admins() if a.region == region), None)
    if current is not None and current.account_id != account:
        raise InvalidRequest(
            f"the organization's Detective administrator in {region} is already"
            f" {current.account_id}: disable it first"
        )
    as_admin = Caller(Identity("organization administrator", account))
    info = create_graph(store=store, caller=as_admin, region=region, tags=None, now=now)
    with graph_lock(info.arn):
        _update_props(store, info.arn, organization=True)
    admin = current or OrgAdmin(region, account, info.arn, now)
    store.put_org_admin(admin)
    return admin


def disable_org_admin(
    *, store: GraphStore, caller: Caller, region: str, settings: MembershipSettings
) -> None:
    """Remove the region's organization administrator and delete the organization graph."""
    _management(caller, settings, "DisableOrganizationAdminAccount")
    current = next((a for a in store.org_admins() if a.region == region), None)
    if current is None:
        return
    with graph_lock(current.graph):
        store.delete_org_admin(region)
        with contextlib.suppress(GraphNotFound):  # deleted with DeleteGraph already
            store.delete_graph(current.graph)


def list_org_admins(
    *, store: GraphStore, caller: Caller, region: str, settings: MembershipSettings
) -> list[OrgAdmin]:
    _management(caller, settings, "ListOrganizationAdminAccounts")
    return [a for a in store.org_admins() if a.region == region]


def org_graph(*, store: GraphStore, caller: Caller, arn: str) -> GraphInfo:
    """The organization graph, for its administrator."""
    info = admin_graph(store=store, caller=caller, arn=arn)
    if not info.props.get("organization"):
        raise AccessDenied(f"behavior graph {arn} is not the organization's behavior graph")
    return info


def describe_org_config(*, store: GraphStore, caller: Caller, arn: str) -> bool:
    return bool(org_graph(store=store, caller=caller, arn=arn).props.get("auto_enable", False))


def region_of(arn: str) -> str:
    return arn_region(check_graph_arn(arn))
