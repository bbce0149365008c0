"""Profiles served from a BaselineCache: the same panels as without one, fewer store reads.

Which items of a principal are new (baselines.new_behaviors) is cached per entity, scope and
observed span like the baselines; the API call volume panel takes a principal's hourly calls
from its cached baseline instead of reading them again.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from api.graphql import execution
from api.graphql.loaders import _MemoWithUri
from api.services import activity, activity_baselines, batching, behaviors
from api.services.reads import CachedReads
from api.services.scope import Scope
from baselines import new_behaviors as found_new
from baselines.cache import BaselineCache
from graph.model import CALLED, COUNTER_MAX, HOUR
from graph.store import Direction, GraphStore
from tests.conftest import GRAPH
from tests.integration.test_graphql_profiles import ACCT, A, D, R, U, profile, scenario, served

DAY = 86_400
SCOPES = [Scope(D, D + DAY), Scope(D - 40 * DAY, D + 5 * DAY)]


class Counting:
    """The store, counting `series` calls."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()
        self.uri = store.uri

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.store, name)


class CountingCalls(Counting):
    """The store, counting the calls made (not the methods looked up: CachedReads looks a
    read up before it knows whether its memo has the answer)."""

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return call


def _reads(store: Any) -> Any:
    return _MemoWithUri(CachedReads(store), store.uri)


@pytest.mark.parametrize("scope", SCOPES)
def test_cached_profiles_are_the_same_panels(store: GraphStore, scope: Scope) -> None:
    scenario(store)
    refs = [U, R, ACCT]
    plain_volume = activity.api_call_volume(
        store=CachedReads(store), graph=GRAPH, refs=refs, scope=scope
    )
    plain_new = behaviors.new_behaviors(
        store=CachedReads(store), graph=GRAPH, refs=refs, scope=scope
    )
    cache = BaselineCache()
    for _ in range(2):  # cold, then warm
        counted = Counting(store)
        activity_baselines.api_call_hourly_baselines(
            store=_reads(counted), graph=GRAPH, refs=refs, scope=scope, cache=cache
        )
        volume = activity.api_call_volume(
            store=_reads(counted), graph=GRAPH, refs=refs, scope=scope, cache=cache
        )
        new = behaviors.new_behaviors(
            store=_reads(counted), graph=GRAPH, refs=refs, scope=scope, cache=cache
        )
        for ref in refs:
            assert volume[ref].buckets == plain_volume[ref].buckets
            assert volume[ref].by_caller == plain_volume[ref].by_caller
            assert volume[ref].by_method == plain_volume[ref].by_method
            assert new[ref] == plain_new[ref]
    # warm: the hourly calls came from the cached baselines, not from a series read
    assert counted.calls["series"] == 0


def test_new_behaviors_are_judged_once_per_entity_and_scope(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario(store)
    judged: list[Any] = []
    real = found_new.new_behaviors

    def counting(**kwargs: Any) -> Any:
        judged.append(kwargs["principal"])
        return real(**kwargs)

    monkeypatch.setattr(found_new, "new_behaviors", counting)
    cache = BaselineCache()
    for scope in (SCOPES[0], SCOPES[0], SCOPES[1]):
        behaviors.new_behaviors(
            store=_reads(store), graph=GRAPH, refs=[U], scope=scope, cache=cache
        )
    assert judged == [U, U]  # the repeated scope was a hit


def test_the_fast_path_builds_what_graphql_core_builds(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """api.graphql.execution builds plain objects and lists of them (a method's source IPs)
    itself: the response is the one graphql-core's general path gives."""
    clients = served(store)
    client = next(clients)
    try:
        cases = [("AWS_USER", U.key), ("AWS_ROLE", R.key), ("AWS_ACCOUNT", A)]
        fast = [profile(client, t, k) for t, k in cases]
        monkeypatch.setattr(execution.FastExecutionContext, "_fast", lambda *_: None)
        general = [profile(client, t, k) for t, k in cases]
    finally:
        for _ in clients:  # the rest of the generator: the server stops
            pass
    assert fast == general
    assert fast[2]["apiCallVolume"]["byMethod"][0]["sourceIps"]  # lists of objects were built


def test_rows_of_plain_fields_and_plain_methods_skip_graphql_core(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Count rows (a method's calls, its source IPs, new behaviors) read their counts and dates
    through methods taking only `self`: the fast path calls them itself, so graphql-core's
    general path builds none of those objects."""
    general: Counter[str] = Counter()
    real = execution.StrawberryGraphQLCoreExecutionContext.execute_fields

    def counted(self: Any, parent_type: Any, *args: Any) -> Any:
        general[parent_type.name] += 1
        return real(self, parent_type, *args)

    monkeypatch.setattr(execution.StrawberryGraphQLCoreExecutionContext, "execute_fields", counted)
    clients = served(store)
    client = next(clients)
    try:
        account = profile(client, "AWS_ACCOUNT", A)
    finally:
        for _ in clients:
            pass
    methods = account["apiCallVolume"]["byMethod"]
    assert methods and methods[0]["sourceIps"]
    assert all(c["firstObserved"] for c in account["newBehaviors"]["apiCalls"])
    rows = {"ApiMethodCalls", "SourceIpCount", "SourceIpCalls", "MethodCount", "ApiCallBehavior"}
    assert not rows & set(general), general
    assert general["ApiCallVolume"] >= 1  # objects with async fields still go the general way


@pytest.mark.parametrize("scope", SCOPES)
def test_a_profile_panel_reads_its_hours_per_api(store: GraphStore, scope: Scope) -> None:
    """A single principal's volume panel reads its own hours per API, in the one
    `series_by_other` call that also gives its callers' totals (on SQLite: the day series), and
    no hour rows (`series`): its buckets are the sums of its CALLED edges' hours."""
    scenario(store)
    for ref in (U, ACCT):
        counted = CountingCalls(store)
        panel = activity.api_call_volume(
            store=_reads(counted), graph=GRAPH, refs=[ref], scope=scope
        )[ref]
        assert counted.calls["series_by_other"] == 1, counted.calls
        assert counted.calls["series"] == 0, counted.calls
        rows = batching.series(
            store, GRAPH, [ref], CALLED, Direction.OUT, span=(scope.start, scope.end)
        )[ref]
        hours = [(b.start, b.success, b.failed) for b in panel.buckets if b.success or b.failed]
        assert hours == [(h, c[0], c[1]) for h, c in sorted(rows)] and hours


def test_hours_summed_over_apis_saturate_like_the_counters() -> None:
    scope = SCOPES[0]
    full = np.zeros((3, 24), dtype=np.int64)
    full[0, 2] = full[1, 5] = COUNTER_MAX
    one = np.zeros((3, 24), dtype=np.int64)
    one[0, 2], one[0, 3] = 7, 2**53 + 1
    assert activity._hours(scope, [full, one]) == [
        (scope.start + 2 * HOUR, (COUNTER_MAX, 0)),
        (scope.start + 3 * HOUR, (2**53 + 1, 0)),
        (scope.start + 5 * HOUR, (0, COUNTER_MAX)),
    ]
    assert activity._hours(scope, [one]) == [
        (scope.start + 2 * HOUR, (7, 0)),
        (scope.start + 3 * HOUR, (2**53 + 1, 0)),
    ]
