"""Baselines end to end: generated CloudTrail with injected anomalies -> loader -> SQLite ->
new behaviors and API call baselines, checked against an oracle over the raw files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from baselines.new_behaviors import new_behaviors
from baselines.volume import api_call_baseline
from bench.baselines_store import ELIGIBLE, Oracle
from bench.workload import Anomaly, GenerateResult, generate, principals
from graph.model import VertexRef
from graph.sqlite import SqliteStore
from loaders.pipeline import Loader, LoadOptions

pytestmark = pytest.mark.slow

DAY = 86_400
DAYS = 50
ACCOUNTS = 2
EVENTS = 60_000
SEED = 5


@dataclass
class Loaded:
    store: SqliteStore
    graph: str
    truth: GenerateResult
    oracle: Oracle


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    root = Path(tmp_path_factory.mktemp("workload"))
    population = principals(accounts=ACCOUNTS, days=DAYS, events=EVENTS, seed=SEED)
    busy = sorted(
        (p for p in population if p.kind in ELIGIBLE and p.mean_rate >= 0.5),
        key=lambda p: -p.mean_rate,
    )
    assert len(busy) >= 3
    last = (DAYS - 3) * 24
    anomalies = [
        Anomaly("new_geolocation", busy[0].key, last + 10, 2, 0.5),
        Anomaly("new_user_agent", busy[1].key, last + 14, 1, 0.5),
        Anomaly("new_api", busy[2].key, last + 30, 2, 2.0),
        Anomaly("new_aso", busy[1].key, last + 40, 1, 0.5),
        Anomaly("volume_spike", busy[0].key, last + 50, 1, 8.0),
    ]
    truth = generate(
        root, accounts=ACCOUNTS, days=DAYS, events=EVENTS, seed=SEED, anomalies=anomalies
    )
    store = SqliteStore(root / "graph.db")
    report = Loader(store, LoadOptions()).load([str(root / "AWSLogs")])
    assert report.graph is not None and not report.failed
    oracle = Oracle(root, {p.key for p in truth.principals if p.kind in ELIGIBLE})
    yield Loaded(store, report.graph, truth, oracle)
    store.close()


def _day(ts: int) -> int:
    return ts - ts % DAY


def test_new_behaviors_match_the_raw_events(loaded: Loaded) -> None:
    checked = 0
    for a in loaded.truth.anomalies:
        if not a.kind.startswith("new_"):
            continue
        day = _day(a.hours[0])
        got = new_behaviors(
            store=loaded.store,
            graph=loaded.graph,
            principal=VertexRef(a.label, a.principal),
            start=day,
            end=day + DAY,
        )
        assert got.training is None
        reported = {(b.kind, b.key) for b in got.all}
        assert reported == loaded.oracle.new(a.principal, day, day + DAY, 45 * DAY), a.kind
        planted = {
            "new_geolocation": {("geolocation", c) for c in a.countries},
            "new_aso": {("aso", f"AS{n}") for n in a.asns},
            "new_user_agent": {("user_agent", u) for u in a.user_agents},
            "new_api": {("api_call", x) for x in a.apis},
        }[a.kind]
        # every planted value the generator emitted is reported
        emitted = planted & loaded.oracle.new(a.principal, day, day + DAY, 45 * DAY)
        assert emitted and emitted <= reported, a.kind
        checked += 1
    assert checked == 4


def test_quiet_days_report_what_the_raw_events_say(loaded: Loaded) -> None:
    anomalous = {(a.principal, _day(h)) for a in loaded.truth.anomalies for h in a.hours}
    last = _day(loaded.truth.end) - DAY
    compared = 0
    for p in loaded.truth.principals:
        if p.kind not in ELIGIBLE or p.mean_rate < 0.5 or (p.key, last) in anomalous:
            continue
        got = new_behaviors(
            store=loaded.store,
            graph=loaded.graph,
            principal=VertexRef(p.label, p.key),
            start=last,
            end=last + DAY,
        )
        if got.training is None:
            reported = {(b.kind, b.key) for b in got.all}
            assert reported == loaded.oracle.new(p.key, last, last + DAY, 45 * DAY), p.key
            compared += 1
    assert compared >= 3


def test_the_volume_spike_hour_exceeds_its_upper_bound(loaded: Loaded) -> None:
    (spike,) = [a for a in loaded.truth.anomalies if a.kind == "volume_spike"]
    day = _day(spike.hours[0])
    result = api_call_baseline(
        store=loaded.store,
        graph=loaded.graph,
        principal=VertexRef(spike.label, spike.principal),
        start=day,
        end=day + DAY,
    )
    assert result.training is None
    by_hour = {b.start: b for b in result.buckets}
    hit = by_hour[spike.hours[0]]
    assert hit.upper is not None and hit.success + hit.failed > hit.upper
    flagged = [
        b.start for b in result.buckets if b.upper is not None and b.success + b.failed > b.upper
    ]
    assert flagged == [spike.hours[0]]
    # a one-hour spike spread over the principal's usual methods need not lift any method's
    # daily total over its bound; whatever is listed must be a method above its bound
    for item in result.increased_volume:
        method = next(m for m in result.methods if m.api == item.api)
        assert method.in_baseline and item.observed > item.upper == method.upper
