"""New behavior: what a principal did in the scope, each item marked newly observed or not.

An item (API call, user agent, geolocation, autonomous system organization) is *newly observed*
when the principal used it in the scope and not in the baseline window, the 45 days before the
scope starts (Detective's definition).

Most items are settled by the edges the scope already returned: an edge first observed inside
the baseline window proves its item was seen there. Only the rest are looked up in the baseline
window, with at most one store call per item kind, restricted to those items where the graph
allows it (API calls and user agents; a place is known only through the addresses located in
it, so its lookup reads the addresses used in the baseline window). A user agent has one edge
per principal, so one first observed inside the scope is new without a lookup; an API call has
one edge per source IP and always needs the lookup.

Places come from the addresses' own properties (country, city, ASN and organization, as the
loader geolocated them). `first`/`last` observed are the edges', over all time. "Increased
volume" needs the baseline model of the baselines package and is not computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from api.services.activity import Calls, split_api
from api.services.batching import neighbours, vertices
from api.services.reads import GraphReads
from api.services.scope import Scope
from graph.model import AGENT, API, CALLED, PRINCIPALS, USED_AGENT, USED_IP, VertexRef
from graph.store import Direction, Neighbour, Vertex


@dataclass(slots=True)
class Behavior:
    key: str  # the ApiOperation or UserAgent key, `<country>[/<city>]`, or `AS<number>`
    calls: Calls = field(default_factory=Calls)  # in the scope; first/last: all time
    newly_observed: bool = False
    in_baseline: bool = False  # proven seen in the baseline window by one of its edges
    addresses: set[str] = field(default_factory=set)  # for geolocations and ASOs
    organization: str | None = None  # for ASOs


@dataclass(slots=True)
class NewBehaviors:
    scope: Scope
    api_calls: list[Behavior]
    user_agents: list[Behavior]
    geolocations: list[Behavior]
    asos: list[Behavior]


Items = dict[str, Behavior]


def _add(items: Items, key: str, n: Neighbour, scope: Scope) -> Behavior:
    b = items.get(key)
    if b is None:
        b = items[key] = Behavior(key)
    b.calls.add(n.counts[0], n.counts[1], n.first, n.last)
    if scope.baseline_start <= n.first < scope.start:
        b.in_baseline = True
    return b


def _fold(rows: list[Neighbour], scope: Scope) -> Items:
    """Edges (possibly several per item, e.g. per source IP) folded into one row per item."""
    out: Items = {}
    for n in rows:
        _add(out, n.ref.key, n, scope)
    return out


def _ordered(items: Items) -> list[Behavior]:
    # new first, then by volume: the panels answer "what is new" before "what is usual"
    return sorted(items.values(), key=lambda b: (not b.newly_observed, -b.calls.total, b.key))


def _settle(
    store: GraphReads,
    graph: str,
    found: dict[VertexRef, Items],
    edge_label: str,
    other_label: str,
    scope: Scope,
    *,
    one_edge_per_item: bool,
) -> None:
    """Set newly_observed on every item, asking the store only about unsettled ones."""
    ask: dict[VertexRef, set[str]] = {}
    for ref, items in found.items():
        for b in items.values():
            if b.in_baseline:
                continue
            if one_edge_per_item and b.calls.first >= scope.start:
                b.newly_observed = True  # its only edge starts in the scope
                continue
            ask.setdefault(ref, set()).add(b.key)
    wanted = sorted({VertexRef(other_label, k) for keys in ask.values() for k in keys})
    before = neighbours(
        store,
        graph,
        list(ask),
        edge_label,
        Direction.OUT,
        span=(scope.baseline_start, scope.start),
        others=wanted,
    )
    for ref, keys in ask.items():
        seen = {n.ref.key for n in before.get(ref, [])}
        for key in keys:
            found[ref][key].newly_observed = key not in seen


def _place_keys(ip: Vertex | None) -> tuple[str | None, str | None, str | None]:
    """(geolocation key, ASO key, organization) of an address, as the loader wrote them."""
    if ip is None:
        return None, None, None
    country, city, asn = ip.props.get("country"), ip.props.get("city"), ip.props.get("asn")
    geo = (f"{country}/{city}" if city else str(country)) if country else None
    aso = f"AS{asn}" if asn is not None else None
    organization = ip.props.get("aso")
    return geo, aso, str(organization) if organization else None


def _places(
    store: GraphReads, graph: str, principals: list[VertexRef], scope: Scope
) -> dict[VertexRef, tuple[Items, Items]]:
    """(geolocations, ASOs) of each principal, settled."""
    used = neighbours(
        store, graph, principals, USED_IP, Direction.OUT, span=(scope.start, scope.end)
    )
    # an address first used in the baseline window settles its places; any other needs the
    # addresses of the baseline window (read only for the principals that have one)
    unsettled = [
        ref
        for ref, rows in used.items()
        if any(not scope.baseline_start <= n.first < scope.start for n in rows)
    ]
    before = neighbours(
        store,
        graph,
        unsettled,
        USED_IP,
        Direction.OUT,
        span=(scope.baseline_start, scope.start),
    )
    props = vertices(
        store, graph, (n.ref for found in (used, before) for rows in found.values() for n in rows)
    )
    out: dict[VertexRef, tuple[Items, Items]] = {}
    for ref, rows in used.items():
        geos: Items = {}
        asos: Items = {}
        for n in rows:
            geo, aso, organization = _place_keys(props.get(n.ref))
            for items, key in ((geos, geo), (asos, aso)):
                if key is not None:
                    _add(items, key, n, scope).addresses.add(n.ref.key)
            if aso is not None:
                asos[aso].organization = organization
        out[ref] = (geos, asos)
    for ref, (geos, asos) in out.items():
        seen = {k for n in before.get(ref, []) for k in _place_keys(props.get(n.ref))[:2] if k}
        for b in (*geos.values(), *asos.values()):
            b.newly_observed = not b.in_baseline and b.key not in seen
    return out


def new_behaviors(
    *, store: GraphReads, graph: str, refs: Sequence[VertexRef], scope: Scope
) -> dict[VertexRef, NewBehaviors]:
    """The new-behavior panels of each principal (other labels are skipped)."""
    principals = [r for r in dict.fromkeys(refs) if r.label in PRINCIPALS]
    if not principals:
        return {}
    span = (scope.start, scope.end)
    apis = {
        r: _fold(rows, scope)
        for r, rows in neighbours(
            store, graph, principals, CALLED, Direction.OUT, span=span
        ).items()
    }
    agents = {
        r: _fold(rows, scope)
        for r, rows in neighbours(
            store, graph, principals, USED_AGENT, Direction.OUT, span=span
        ).items()
    }
    _settle(store, graph, apis, CALLED, API, scope, one_edge_per_item=False)
    _settle(store, graph, agents, USED_AGENT, AGENT, scope, one_edge_per_item=True)
    places = _places(store, graph, principals, scope)
    return {
        ref: NewBehaviors(
            scope,
            _ordered(apis.get(ref, {})),
            _ordered(agents.get(ref, {})),
            _ordered(places[ref][0]),
            _ordered(places[ref][1]),
        )
        for ref in principals
    }


__all__ = ["Behavior", "NewBehaviors", "new_behaviors", "split_api"]
