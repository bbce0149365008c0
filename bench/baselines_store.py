"""End-to-end part of the baselines accuracy benchmark: generated CloudTrail -> SQLite -> gumshoe.

A multi-account workload (bench.workload) is generated with anomalies injected in its last two
weeks, loaded into a real SqliteStore with the production loader, and gumshoe's
`new_behaviors` and `api_call_baseline` are asked about one-day scopes: the day of every
anomaly, and control days of other principals.

Ground truth comes from two places:
- the injected anomalies (the generator's `.truth.json`): what must be found (recall);
- an oracle over the raw CloudTrail files, independent of the loader and the store: per
  principal, every API, user agent, source address (hence geolocation and ASO) and the hours it
  was used. What it says is new in a scope (used in the scope, not in the 45 days before) is
  what gumshoe should report; it includes natural novelties (a rare API a principal had not
  called in 45 days), which are right to report. Only the IP geolocation lookup
  (loaders.geo) is shared with gumshoe: that is data, not the logic under test.
"""

from __future__ import annotations

import calendar
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from isal import igzip

from baselines.config import BaselineConfig
from baselines.new_behaviors import new_behaviors
from baselines.volume import VolumeBucket, api_call_baseline
from bench.workload import (
    ANOMALY_KINDS,
    Anomaly,
    GenerateResult,
    InjectedAnomaly,
    PrincipalTruth,
    generate,
    principals,
)
from graph.model import VertexRef
from graph.sqlite import SqliteStore
from loaders.geo import default_index, parse_source_ip
from loaders.pipeline import Loader, LoadOptions

DAY = 86_400
KINDS = ("geolocation", "aso", "user_agent", "api_call")
ELIGIBLE = ("human", "ci", "role-human", "role-deploy", "role-instance", "role-lambda")
MAGNITUDE = {"volume_spike": 8.0, "failed_burst": 3.0}  # as bench.workload.random_anomalies


# ----------------------------------------------------------------------------- the oracle


class _Identity(msgspec.Struct):
    type: str = ""
    principalId: str = ""


class _Record(msgspec.Struct):
    eventTime: str
    eventSource: str
    eventName: str
    userIdentity: _Identity
    sourceIPAddress: str = ""
    userAgent: str = ""


class _Delivery(msgspec.Struct):
    Records: list[_Record]


_decode = msgspec.json.Decoder(_Delivery).decode
_gunzip: Callable[[bytes], bytes] = igzip.decompress


def _principal_key(who: _Identity) -> str | None:
    """Users by principal id, role sessions by their role (a role's activity is its sessions')."""
    if who.type == "IAMUser":
        return who.principalId
    if who.type == "AssumedRole":
        return who.principalId.split(":", 1)[0]
    return None


def _epoch_hour(text: str) -> int:
    # "YYYY-MM-DDTHH:MM:SSZ" (as the generator writes it): whole hours are all the oracle needs
    y, mo, d, h = int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13])
    return calendar.timegm((y, mo, d, h, 0, 0, 0, 0, 0))


class Oracle:
    """Per principal and kind: value -> the hours it was used."""

    def __init__(self, root: Path, keys: set[str]) -> None:
        self.uses: dict[str, dict[str, dict[str, set[int]]]] = {}
        ips: dict[str, set[tuple[str, int]]] = defaultdict(set)  # address -> (principal, hour)
        for path in sorted((root / "AWSLogs").rglob("*.json.gz")):
            for r in _decode(_gunzip(path.read_bytes())).Records:
                who = _principal_key(r.userIdentity)
                if who not in keys:
                    continue
                hour = _epoch_hour(r.eventTime)
                mine = self.uses.setdefault(who, {k: defaultdict(set) for k in KINDS})
                mine["api_call"][f"{r.eventSource}:{r.eventName}"].add(hour)
                if r.userAgent:
                    mine["user_agent"][r.userAgent].add(hour)
                address = parse_source_ip(r.sourceIPAddress)
                if address:
                    ips[address].add((who, hour))
        infos = default_index().lookup_many(sorted(ips)) if ips else []
        for info in infos:
            for who, hour in ips[info.address]:
                mine = self.uses[who]
                if info.country:
                    place = f"{info.country}/{info.city}" if info.city else info.country
                    mine["geolocation"][place].add(hour)
                if info.asn is not None:
                    mine["aso"][f"AS{info.asn}"].add(hour)

    def new(self, who: str, start: int, end: int, baseline: int) -> set[tuple[str, str]]:
        """(kind, value) used in [start, end) and not in the `baseline` seconds before."""
        out = set()
        for kind, values in self.uses.get(who, {}).items():
            for value, hours in values.items():
                if any(start <= h < end for h in hours) and not any(
                    start - baseline <= h < start for h in hours
                ):
                    out.add((kind, value))
        return out


# ----------------------------------------------------------------------------- the workload


@dataclass(slots=True)
class StoreScores:
    """Counts behind precision and recall, per new-behavior kind, plus volume detections."""

    reported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))  # in oracle
    oracle: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    found_oracle: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    found_injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    # injected values the oracle says were not new, left out of the injected recall: values the
    # generator planned but never emitted (an anomaly of one event an hour over two APIs may
    # call only one), or the same value injected twice within 45 days for one principal
    injected_not_new: int = 0
    volume: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    increased: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    control_hours: int = 0
    control_flags: int = 0
    control_increased: int = 0
    scopes: int = 0
    training_skipped: int = 0
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    events: int = 0
    load_seconds: float = 0.0


def plan_anomalies(
    population: list[PrincipalTruth], *, days: int, per_kind: int, seed: int
) -> list[Anomaly]:
    """`per_kind` anomalies of each kind on eligible principals, in the last two weeks (so that
    every scope has a full 45-day baseline window before it)."""
    r = random.Random(f"gumshoe-baselines-bench-{seed}")
    eligible = [p for p in population if p.kind in ELIGIBLE and p.mean_rate >= 0.5]
    first_hour, last_hour = (days - 14) * 24, days * 24
    out = []
    for kind in ANOMALY_KINDS:
        for _ in range(per_kind):
            p = r.choice(eligible)
            length = r.randint(1, 3)
            start = r.randint(first_hour, last_hour - length)
            out.append(Anomaly(kind, p.key, start, length, MAGNITUDE.get(kind, 0.5)))
    return out


def run_store_bench(
    workdir: Path, *, accounts: int, days: int, events: int, per_kind: int, controls: int,
    seed: int, config: BaselineConfig,
) -> StoreScores:  # fmt: skip
    scores = StoreScores()
    population = principals(accounts=accounts, days=days, events=events, seed=seed)
    anomalies = plan_anomalies(population, days=days, per_kind=per_kind, seed=seed)
    truth = generate(
        workdir, accounts=accounts, days=days, events=events, seed=seed, anomalies=anomalies,
        overwrite=True,
    )  # fmt: skip
    scores.events = truth.events
    store = SqliteStore(workdir / "bench.db")
    try:
        began = time.perf_counter()
        report = Loader(store, LoadOptions()).load([str(workdir / "AWSLogs")])
        scores.load_seconds = time.perf_counter() - began
        assert report.graph is not None
        _score(store, report.graph, truth, workdir, scores, controls, seed, config)
    finally:
        store.close()
    return scores


def _scopes(
    truth: GenerateResult, controls: int, seed: int
) -> Iterator[tuple[PrincipalTruth, int, list[str]]]:
    """(principal, scope day start, anomaly kinds in it): anomaly days, then control days."""
    by_scope: dict[tuple[str, int], list[str]] = defaultdict(list)
    for a in truth.anomalies:
        for hour in a.hours:
            by_scope[(a.principal, hour - hour % DAY)].append(a.kind)
    for (key, day), kinds in sorted(by_scope.items()):
        yield truth.principal(key), day, sorted(set(kinds))
    r = random.Random(f"gumshoe-baselines-controls-{seed}")
    eligible = [p for p in truth.principals if p.kind in ELIGIBLE and p.mean_rate >= 0.5]
    last_day = truth.end - truth.end % DAY
    picked = 0
    while picked < controls and eligible:
        p = r.choice(eligible)
        day = last_day - r.randint(1, 14) * DAY
        if (p.key, day) not in by_scope:
            by_scope[(p.key, day)] = []
            picked += 1
            yield p, day, []


def _score(
    store: SqliteStore, graph: str, truth: GenerateResult, workdir: Path, s: StoreScores,
    controls: int, seed: int, config: BaselineConfig,
) -> None:  # fmt: skip
    oracle = Oracle(workdir, {p.key for p in truth.principals if p.kind in ELIGIBLE})
    injected_by_scope: dict[tuple[str, int], set[tuple[str, str]]] = defaultdict(set)
    anomaly_hours: dict[tuple[str, int, str], set[int]] = defaultdict(set)
    for a in truth.anomalies:
        day = a.hours[0] - a.hours[0] % DAY
        injected_by_scope[(a.principal, day)] |= _planted(a, primary=False)
        for hour in a.hours:
            anomaly_hours[(a.principal, hour - hour % DAY, a.kind)].add(hour)
    for p, day, kinds in _scopes(truth, controls, seed):
        ref = VertexRef(p.label, p.key)
        began = time.perf_counter()
        nb = new_behaviors(
            store=store, graph=graph, principal=ref, start=day, end=day + DAY, config=config
        )
        s.latency_ms["new_behaviors"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        vol = api_call_baseline(
            store=store, graph=graph, principal=ref, start=day, end=day + DAY, config=config
        )
        s.latency_ms["api_call_baseline"].append((time.perf_counter() - began) * 1000)
        if nb.training is not None:
            s.training_skipped += 1  # Detective shows "in training" instead of these panels
            continue
        s.scopes += 1
        reported = {(b.kind, b.key) for b in nb.all}
        expected = oracle.new(p.key, day, day + DAY, config.baseline_seconds)
        # injected values that really are new (a new geolocation's address is usually a new
        # ASO too, and the oracle decides whether it was)
        planted = injected_by_scope.get((p.key, day), set())
        injected = planted & expected
        s.injected_not_new += len(planted - expected - _secondary(truth, p.key, day))
        for kind in KINDS:
            r = {v for v in reported if v[0] == kind}
            o = {v for v in expected if v[0] == kind}
            i = {v for v in injected if v[0] == kind}
            s.reported[kind] += len(r)
            s.correct[kind] += len(r & o)
            s.oracle[kind] += len(o)
            s.found_oracle[kind] += len(r & o)
            s.injected[kind] += len(i)
            s.found_injected[kind] += len(r & i)
        if not kinds:
            for b in vol.buckets:
                s.control_hours += 1
                s.control_flags += _spike(b) or _burst(b)
            s.control_increased += len(vol.increased_volume)
        for kind in ("volume_spike", "failed_burst"):
            if kind not in kinds:
                continue
            hours = anomaly_hours[(p.key, day, kind)]
            flagged = _spike if kind == "volume_spike" else _burst
            s.volume[kind].append(any(flagged(b) for b in vol.buckets if b.start in hours))
            s.increased[kind].append(bool(vol.increased_volume))


def _planted(a: InjectedAnomaly, *, primary: bool) -> set[tuple[str, str]]:
    """The values an anomaly introduced: all of them, or only those of its own kind (a new
    geolocation's address also brings an ASO, which may or may not be new)."""
    geo = {("geolocation", c) for c in a.countries}
    aso = {("aso", f"AS{n}") for n in a.asns}
    if primary:
        geo = geo if a.kind == "new_geolocation" else set()
        aso = aso if a.kind == "new_aso" else set()
    return (
        geo | aso | {("user_agent", u) for u in a.user_agents} | {("api_call", x) for x in a.apis}
    )


def _secondary(truth: GenerateResult, key: str, day: int) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for a in truth.anomalies:
        if a.principal == key and a.hours[0] - a.hours[0] % DAY == day:
            out |= _planted(a, primary=False) - _planted(a, primary=True)
    return out


def _spike(b: VolumeBucket) -> bool:
    return b.upper is not None and b.success + b.failed > b.upper


def _burst(b: VolumeBucket) -> bool:
    return b.failed_upper is not None and b.failed > b.failed_upper
