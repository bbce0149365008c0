"""New behavior: what a principal did in the scope, each item marked newly observed or not.

An item (API call, user agent, geolocation, autonomous system organization) is *newly observed*
when the principal used it in the scope and not in the baseline window, the 45 days before the
scope starts (Detective's definition). Which items are new is decided by the baselines package
(`baselines.new_behaviors.new_behaviors`, per principal and per account: an account's activity
is the rollup of its principals'), which checks every item against the baseline window, whatever
its edges in the scope: CALLED edges are per source address, so an API called for months from
one address has a brand-new edge the first time it is called from another, and it is not new.
The same call says, for a principal of an account, whether each new item is new for the whole
account, and carries the training notice (less than 14 days of history before the scope).

This module lists everything used in the scope (the panels show usual items too), read in
batches for all the principals of a request: API calls and user agents from the principal's
edges, geolocations and ASOs from the addresses it used (their country, city, ASN and
organization, as the loader geolocated them). `first`/`last` observed are the edges', over all
time. Increased volume comes from the API call baseline (api.services.activity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from api.services.activity import Calls, split_api
from api.services.batching import neighbours, vertices
from api.services.scope import Scope
from baselines import new_behaviors as found_new
from baselines.cache import BaselineCache, CacheKey
from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.window import TrainingNotice
from graph.model import CALLED, PRINCIPALS, USED_AGENT, USED_IP, VertexRef
from graph.store import Direction, GraphReads, GraphStore, Neighbour, Vertex


@dataclass(slots=True)
class Behavior:
    key: str  # the ApiOperation or UserAgent key, `<country>[/<city>]`, or `AS<number>`
    calls: Calls = field(default_factory=Calls)  # in the scope; first/last: all time
    newly_observed: bool = False
    new_for_account: bool | None = None  # new items of an account's principal only
    country_new: bool | None = None  # new geolocations: no address of the country before
    addresses: set[str] = field(default_factory=set)  # for geolocations and ASOs
    organization: str | None = None  # for ASOs


@dataclass(slots=True)
class NewBehaviors:
    scope: Scope
    api_calls: list[Behavior]
    user_agents: list[Behavior]
    geolocations: list[Behavior]
    asos: list[Behavior]
    training: TrainingNotice | None = None


Items = dict[str, Behavior]


def _add(items: Items, key: str, n: Neighbour) -> Behavior:
    b = items.get(key)
    if b is None:
        b = items[key] = Behavior(key)
    b.calls.add(n.counts[0], n.counts[1], n.first, n.last)
    return b


def _fold(rows: list[Neighbour]) -> Items:
    """Edges (possibly several per item, e.g. per source IP) folded into one row per item."""
    out: Items = {}
    for n in rows:
        _add(out, n.ref.key, n)
    return out


def _ordered(items: Items) -> list[Behavior]:
    # new first, then by volume: the panels answer "what is new" before "what is usual"
    return sorted(items.values(), key=lambda b: (not b.newly_observed, -b.calls.total, b.key))


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
    """(geolocations, ASOs) of the addresses each principal used in the scope."""
    used = neighbours(
        store, graph, principals, USED_IP, Direction.OUT, span=(scope.start, scope.end)
    )
    props = vertices(store, graph, (n.ref for rows in used.values() for n in rows))
    out: dict[VertexRef, tuple[Items, Items]] = {}
    for ref, rows in used.items():
        geos: Items = {}
        asos: Items = {}
        for n in rows:
            geo, aso, organization = _place_keys(props.get(n.ref))
            for items, key in ((geos, geo), (asos, aso)):
                if key is not None:
                    _add(items, key, n).addresses.add(n.ref.key)
            if aso is not None:
                asos[aso].organization = organization
        out[ref] = (geos, asos)
    return out


def _mark(items: Items, new: tuple[found_new.NewBehavior, ...]) -> None:
    """Mark the items the baselines package found new (adding any the listing missed, e.g. a
    place known only through the graph's LOCATED_IN edges)."""
    for nb in new:
        b = items.get(nb.key)
        if b is None:
            b = items[nb.key] = Behavior(nb.key)
            b.calls.add(nb.success, nb.failed, nb.first_observed, nb.last_observed)
            b.addresses.update(nb.addresses)
        b.newly_observed = True
        b.new_for_account = nb.new_for_account
        b.country_new = nb.country_new
        if nb.first_observed and (not b.calls.first or nb.first_observed < b.calls.first):
            b.calls.first = nb.first_observed
        if nb.kind == found_new.AUTONOMOUS_SYSTEM and b.organization is None and nb.name != nb.key:
            b.organization = nb.name


def _found_new(
    store: GraphReads,
    graph: str,
    ref: VertexRef,
    scope: Scope,
    cache: BaselineCache | None,
    config: BaselineConfig,
    vertex: Vertex | None,
) -> found_new.NewBehaviors:
    """`baselines.new_behaviors.new_behaviors` of one principal, cached per entity and scope
    (and the entity's observed span, like every baseline) when a cache is given."""

    def compute() -> found_new.NewBehaviors:
        # the baselines package reads only what the store contract's read half offers
        return found_new.new_behaviors(
            store=cast(GraphStore, store),
            graph=graph,
            principal=ref,
            start=scope.start,
            end=scope.end,
            config=config,
        )

    uri = getattr(store, "uri", None)
    if cache is None or uri is None:
        return compute()
    version = None if vertex is None else (vertex.first, vertex.last)
    key = CacheKey(uri, graph, "new-behaviors", ref, scope.start, scope.end, config, version)
    return cache.get_or_compute(key, compute, found_new.NewBehaviors)


def new_behaviors(
    *,
    store: GraphReads,
    graph: str,
    refs: Sequence[VertexRef],
    scope: Scope,
    config: BaselineConfig = DEFAULT_CONFIG,
    cache: BaselineCache | None = None,
) -> dict[VertexRef, NewBehaviors]:
    """The new-behavior panels of each principal (other labels are skipped). Which items are
    new is cached in `cache` (if given and the store has a `uri`), like the baselines."""
    principals = [r for r in dict.fromkeys(refs) if r.label in PRINCIPALS]
    if not principals:
        return {}
    span = (scope.start, scope.end)
    apis = {
        r: _fold(rows)
        for r, rows in neighbours(
            store, graph, principals, CALLED, Direction.OUT, span=span
        ).items()
    }
    agents = {
        r: _fold(rows)
        for r, rows in neighbours(
            store, graph, principals, USED_AGENT, Direction.OUT, span=span
        ).items()
    }
    places = _places(store, graph, principals, scope)
    known = vertices(store, graph, principals) if cache is not None else {}
    out = {}
    for ref in principals:
        new = _found_new(store, graph, ref, scope, cache, config, known.get(ref))
        mine = (apis.get(ref, {}), agents.get(ref, {}), *places.get(ref, ({}, {})))
        for items, found in zip(
            mine, (new.api_calls, new.user_agents, new.geolocations, new.asos), strict=True
        ):
            _mark(items, found)
        api_calls, user_agents, geolocations, asos = (_ordered(items) for items in mine)
        out[ref] = NewBehaviors(scope, api_calls, user_agents, geolocations, asos, new.training)
    return out


__all__ = ["Behavior", "NewBehaviors", "new_behaviors", "split_api"]
