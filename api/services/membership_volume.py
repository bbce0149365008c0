"""Ingested volume: the daily-volume check that enables a member, and what members report.

Loaders record, per graph, account, package and UTC day, the bytes they wrote (`ingested`) and
the bytes of accounts the graph does not take yet (`skipped`: invited or disabled members). A
graph's daily volume is its largest day of the last week; an account's is its largest day of
ingested plus skipped bytes. Enabling an account that would push the graph over the cap leaves it
ACCEPTED_BUT_DISABLED with VOLUME_TOO_HIGH; an account never measured counts as nothing, or as
VOLUME_UNKNOWN when GUMSHOE_REQUIRE_KNOWN_VOLUME asks for a measurement first.
"""

from __future__ import annotations

from collections.abc import Mapping

from api.services.membership_settings import MembershipSettings
from graph.membership import (
    ACCEPTED_BUT_DISABLED,
    DAY,
    DISABLED,
    ENABLED,
    PACKAGES,
    STOPPED,
    VOLUME_TOO_HIGH,
    VOLUME_UNKNOWN,
    Member,
    PackageState,
    VolumeUsage,
    day_of,
)
from graph.store import GraphStore

WINDOW_DAYS = 7


def _recent(store: GraphStore, graph: str, now: int) -> list[VolumeUsage]:
    return store.volume(graph, since=day_of(now) - WINDOW_DAYS * DAY)


def graph_daily_volume(*, store: GraphStore, graph: str, now: int, without: str = "") -> int:
    """The graph's largest day of ingested bytes in the last week (not counting `without`)."""
    days: dict[int, int] = {}
    for v in _recent(store, graph, now):
        if v.account != without:
            days[v.day] = days.get(v.day, 0) + v.ingested
    return max(days.values(), default=0)


def verdict(
    *, store: GraphStore, graph: str, account: str, settings: MembershipSettings, now: int
) -> tuple[str, str | None]:
    """(ENABLED, None) or (ACCEPTED_BUT_DISABLED, reason) for an account about to be enabled."""
    rows = _recent(store, graph, now)
    days: dict[int, int] = {}
    mine: dict[int, int] = {}
    for v in rows:
        if v.account == account:
            mine[v.day] = mine.get(v.day, 0) + v.ingested + v.skipped
        else:
            days[v.day] = days.get(v.day, 0) + v.ingested
    if not mine and settings.require_known_volume:
        return ACCEPTED_BUT_DISABLED, VOLUME_UNKNOWN
    if max(days.values(), default=0) + max(mine.values(), default=0) > settings.volume_cap:
        return ACCEPTED_BUT_DISABLED, VOLUME_TOO_HIGH
    return ENABLED, None


def usage_by_account(
    *, store: GraphStore, graph: str, now: int
) -> dict[str, dict[str, VolumeUsage]]:
    """Each account's latest measured day in the last week, per package."""
    out: dict[str, dict[str, VolumeUsage]] = {}
    for v in _recent(store, graph, now):  # ordered by (account, package, day): latest wins
        if v.ingested or v.skipped:
            out.setdefault(v.account, {})[v.package] = v
    return out


def member_packages(
    *,
    enabled: bool,
    graph_packages: Mapping[str, PackageState],
    prior: Mapping[str, PackageState],
    now: int,
) -> dict[str, PackageState]:
    """A member's package states: the graph's while it is enabled, DISABLED otherwise."""
    out = {}
    for p in PACKAGES:
        target = graph_packages[p].state if enabled else DISABLED
        if p not in prior and target in (STOPPED, DISABLED):
            out[p] = PackageState(target, {target: now})
        else:
            out[p] = (prior.get(p) or PackageState(target, {})).moved_to(target, now)
    return out


def restart_member_packages(
    *, store: GraphStore, graph: str, packages: Mapping[str, PackageState], now: int
) -> None:
    """Give every enabled member the graph's package states (call under graph_lock)."""
    changed = []
    for m in store.members(graph):
        if m.status != ENABLED:
            continue
        states = member_packages(enabled=True, graph_packages=packages, prior=m.packages, now=now)
        if states != dict(m.packages):
            changed.append(_with_packages(m, states, now))
    store.put_members(graph, changed)


def _with_packages(m: Member, packages: dict[str, PackageState], now: int) -> Member:
    return Member(
        m.graph,
        m.account_id,
        m.email,
        m.status,
        m.invitation_type,
        m.invited_at,
        now,
        m.disabled_reason,
        packages,
    )
