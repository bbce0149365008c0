"""Newly observed behavior of a principal or an account: geolocations, ASOs, user agents, APIs.

An item is *newly observed* when the principal used it in the scope and not once in the baseline
window, the 45 days before the scope starts (Detective's definition). Items seen long before the
baseline window and again in the scope count as new too; their `first_observed` says so.

How it is read (a fixed number of store calls, whatever the activity):
- API calls and user agents are the principal's CALLED and USED_USER_AGENT edges with counts in
  the scope, checked against the baseline window with one range query per kind restricted to
  them. (An edge first observed inside the scope does not make its item new: CALLED edges are
  per source address, so a familiar API called from a new address has a new edge.) One more
  query reads the new items' first and last observed over all their edges.
- Geolocations and ASOs belong to IP addresses (LOCATED_IN, ANNOUNCED_BY; an address keeps its
  place), so they are judged from the addresses the principal used in the scope and in the
  baseline window. A geolocation is a country, or a city within it where the data knows one;
  `country_new` tells whether the country itself is new.
- An account's activity is the rollup of its principals' (the loader writes the account's own
  CALLED, USED_IP and USED_USER_AGENT edges), so the same reads answer for an account. For a
  principal of an account each new item also says whether it is new for the whole account
  (Detective's IsNewForEntireAccount), read from the account's edges in the baseline window.

Less than `min_training_days` of history before the scope adds a `TrainingNotice`: the items are
still listed (they are facts about the history there is), marked provisional by the notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.window import TrainingNotice, baseline_start, check_scope, training_notice
from graph.model import (
    ACCOUNT,
    AGENT,
    ANNOUNCED_BY,
    API,
    ASO,
    BELONGS_TO,
    CALLED,
    GEO,
    LOCATED_IN,
    USED_AGENT,
    USED_IP,
    VertexRef,
)
from graph.store import Direction, GraphStore, Neighbour

GEOLOCATION, AUTONOMOUS_SYSTEM, USER_AGENT, API_CALL = (
    "geolocation",
    "aso",
    "user_agent",
    "api_call",
)


@dataclass(frozen=True, slots=True)
class NewBehavior:
    kind: str  # GEOLOCATION, AUTONOMOUS_SYSTEM, USER_AGENT or API_CALL
    key: str  # the Geolocation, Aso, UserAgent or ApiOperation key
    name: str  # what to show: "DE/Berlin", the ASO's organization, the agent, the method
    success: int  # calls in the scope
    failed: int
    # the principal's first and last use, all time (geolocations and ASOs: of the addresses
    # used in the scope)
    first_observed: int
    last_observed: int
    new_for_account: bool | None  # None: the entity is an account, or belongs to none known
    country: str | None = None  # geolocations
    city: str | None = None
    country_new: bool | None = None  # geolocations: no address of the country in the baseline
    addresses: tuple[str, ...] = ()  # geolocations and ASOs: the addresses used in the scope


@dataclass(frozen=True, slots=True)
class NewBehaviors:
    entity: VertexRef
    start: int
    end: int
    baseline_start: int
    geolocations: tuple[NewBehavior, ...]  # each list: most calls first
    asos: tuple[NewBehavior, ...]
    user_agents: tuple[NewBehavior, ...]
    api_calls: tuple[NewBehavior, ...]
    training: TrainingNotice | None

    @property
    def all(self) -> tuple[NewBehavior, ...]:
        return self.geolocations + self.asos + self.user_agents + self.api_calls


@dataclass(slots=True)
class _Use:
    """Calls summed over the edges (or addresses) that stand for one item."""

    success: int = 0
    failed: int = 0
    first: int = 0
    last: int = 0
    addresses: set[str] = field(default_factory=set)

    def add(self, n: Neighbour) -> None:
        self.success += n.counts[0]
        self.failed += n.counts[1]
        self.first = n.first if not self.first else min(self.first, n.first)
        self.last = max(self.last, n.last)


def _fold(rows: Iterable[Neighbour]) -> dict[str, _Use]:
    out: dict[str, _Use] = {}
    for n in rows:
        out.setdefault(n.ref.key, _Use()).add(n)
    return out


def _seen(
    store: GraphStore, graph: str, who: VertexRef, edge: str, label: str, keys: Sequence[str],
    window: tuple[int, int],
) -> set[str]:  # fmt: skip
    """Which of `keys` the entity used in the window (one range query, restricted to them)."""
    if not keys:
        return set()
    rows = store.neighbours(
        graph,
        [who],
        edge,
        direction=Direction.OUT,
        start=window[0],
        end=window[1],
        others=[VertexRef(label, k) for k in keys],
        counts=False,
    )
    return {n.ref.key for n in rows.get(who, [])}


def _first_use(
    store: GraphStore, graph: str, who: VertexRef, edge: str, label: str, items: dict[str, _Use]
) -> None:
    """Set first/last observed of each item over all its edges, not only those of the scope."""
    if not items:
        return
    rows = store.neighbours(
        graph,
        [who],
        edge,
        direction=Direction.OUT,
        others=[VertexRef(label, k) for k in items],
        counts=False,
    )
    for n in rows.get(who, []):
        use = items.get(n.ref.key)
        if use is not None:
            use.first = min(use.first, n.first)
            use.last = max(use.last, n.last)


class _Places:
    """Where addresses are: their geolocations and ASOs, read once for every address asked."""

    def __init__(self, store: GraphStore, graph: str) -> None:
        self.store, self.graph = store, graph
        self.of: dict[str, list[VertexRef]] = {}

    def read(self, addresses: Iterable[VertexRef]) -> None:
        todo = sorted({a for a in addresses if a.key not in self.of})
        if not todo:
            return
        for edge in (LOCATED_IN, ANNOUNCED_BY):
            found = self.store.neighbours(
                self.graph, todo, edge, direction=Direction.OUT, counts=False
            )
            for ip in todo:
                self.of.setdefault(ip.key, []).extend(n.ref for n in found.get(ip, []))

    def keys(self, addresses: Iterable[str], label: str) -> set[str]:
        return {p.key for a in addresses for p in self.of.get(a, []) if p.label == label}


def _country(geo_key: str) -> str:
    return geo_key.split("/", 1)[0]


def _account_of(
    store: GraphStore, graph: str, entity: VertexRef, props: dict[str, object]
) -> VertexRef | None:
    if entity.label == ACCOUNT:
        return None
    account = props.get("account")
    if isinstance(account, str) and account:
        return VertexRef(ACCOUNT, account)
    rows = store.neighbours(graph, [entity], BELONGS_TO, direction=Direction.OUT, counts=False)
    accounts = [n.ref for n in rows.get(entity, []) if n.ref.label == ACCOUNT]
    return accounts[0] if len(accounts) == 1 else None


def new_behaviors(
    *,
    store: GraphStore,
    graph: str,
    principal: VertexRef,
    start: int,
    end: int,
    config: BaselineConfig = DEFAULT_CONFIG,
) -> NewBehaviors:
    """Newly observed geolocations, ASOs, user agents and API calls of `principal` (a user, role,
    session, federated user, service, instance or account) in the scope [start, end)."""
    check_scope(start, end)
    b0 = baseline_start(start, config)
    vertex = store.vertices(graph, [principal]).get(principal)
    notice = training_notice(vertex.first if vertex else None, start, config)
    if vertex is None:
        return NewBehaviors(principal, start, end, b0, (), (), (), (), notice)
    scope, baseline = (start, end), (b0, start)

    def used(edge: str, window: tuple[int, int], counts: bool = True) -> list[Neighbour]:
        rows = store.neighbours(
            graph,
            [principal],
            edge,
            direction=Direction.OUT,
            start=window[0],
            end=window[1],
            counts=counts,
        )
        return rows.get(principal, [])

    apis, agents = _fold(used(CALLED, scope)), _fold(used(USED_AGENT, scope))
    for items, edge, label in ((apis, CALLED, API), (agents, USED_AGENT, AGENT)):
        # Every item is checked, even one whose edges in the scope were first observed inside
        # it: CALLED edges are per source address, so an API called for months from one
        # address has a brand-new edge the first time it is called from another.
        for k in _seen(store, graph, principal, edge, label, sorted(items), baseline):
            del items[k]
        _first_use(store, graph, principal, edge, label, items)

    # geolocations and ASOs from the addresses used in the scope and in the baseline window
    scope_ips, baseline_ips = used(USED_IP, scope), used(USED_IP, baseline, counts=False)
    places = _Places(store, graph)
    places.read(n.ref for n in (*scope_ips, *baseline_ips))
    before = {n.ref.key for n in baseline_ips}
    geos, asos = _places_used(scope_ips, places)
    for items, label in ((geos, GEO), (asos, ASO)):
        for k in places.keys(before, label):
            items.pop(k, None)
    countries_before = {_country(k) for k in places.keys(before, GEO)}

    # the account's view: was each new item used anywhere in the account in the baseline window?
    account = _account_of(store, graph, principal, dict(vertex.props))
    account_seen: dict[str, set[str]] = {}
    if account is not None:
        for kind, items, edge, label in (
            (API_CALL, apis, CALLED, API),
            (USER_AGENT, agents, USED_AGENT, AGENT),
        ):
            account_seen[kind] = _seen(store, graph, account, edge, label, sorted(items), baseline)
        if geos or asos:
            rows = store.neighbours(
                graph, [account], USED_IP, direction=Direction.OUT, start=b0, end=start,
                counts=False,
            ).get(account, [])  # fmt: skip
            places.read(n.ref for n in rows)
            account_ips = {n.ref.key for n in rows}
            account_seen[GEOLOCATION] = places.keys(account_ips, GEO)
            account_seen[AUTONOMOUS_SYSTEM] = places.keys(account_ips, ASO)

    org = _organizations(store, graph, asos)

    def build(kind: str, items: dict[str, _Use]) -> tuple[NewBehavior, ...]:
        out = []
        for key, u in items.items():
            seen = account_seen.get(kind)
            geo = kind == GEOLOCATION
            country, _, city = key.partition("/")
            out.append(
                NewBehavior(
                    kind,
                    key,
                    org.get(key, key) if kind == AUTONOMOUS_SYSTEM else key,
                    u.success,
                    u.failed,
                    u.first,
                    u.last,
                    None if account is None or seen is None else key not in seen,
                    country if geo else None,
                    (city or None) if geo else None,
                    (country not in countries_before) if geo else None,
                    tuple(sorted(u.addresses)),
                )
            )
        out.sort(key=lambda b: (-(b.success + b.failed), b.key))
        return tuple(out)

    return NewBehaviors(
        principal,
        start,
        end,
        b0,
        build(GEOLOCATION, geos),
        build(AUTONOMOUS_SYSTEM, asos),
        build(USER_AGENT, agents),
        build(API_CALL, apis),
        notice,
    )


def _places_used(
    scope_ips: list[Neighbour], places: _Places
) -> tuple[dict[str, _Use], dict[str, _Use]]:
    """(geolocations, ASOs) with the calls made from their addresses in the scope."""
    geos: dict[str, _Use] = {}
    asos: dict[str, _Use] = {}
    for n in scope_ips:
        for place in places.of.get(n.ref.key, []):
            into = asos if place.label == ASO else geos
            use = into.setdefault(place.key, _Use())
            use.add(n)
            use.addresses.add(n.ref.key)
    return geos, asos


def _organizations(store: GraphStore, graph: str, asos: dict[str, _Use]) -> dict[str, str]:
    if not asos:
        return {}
    found = store.vertices(graph, [VertexRef(ASO, k) for k in sorted(asos)])
    return {
        r.key: str(v.props["organization"]) for r, v in found.items() if v.props.get("organization")
    }
