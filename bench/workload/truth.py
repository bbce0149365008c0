"""Anomalies and ground truth: the public result types, random anomaly selection, anomaly
planning (new values drawn from their own random stream) and per-principal truth.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from bench.workload.api_catalog import SERVICES
from bench.workload.population_tables import (
    FOREIGN_PREFIXES,
    HOSTING_PREFIXES,
    ISP_PREFIXES,
    REGIONS,
    UA_ANOMALIES,
)
from bench.workload.registry import _P
from bench.workload.seasonality import HOUR, Arr
from bench.workload.session_tables import _SessionTables

# ----------------------------------------------------------------------------- public types

AnomalyKind = Literal[
    "volume_spike", "failed_burst", "new_geolocation", "new_aso", "new_user_agent", "new_api"
]
ANOMALY_KINDS: Final[tuple[AnomalyKind, ...]] = (
    "volume_spike", "failed_burst", "new_geolocation", "new_aso", "new_user_agent", "new_api",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Extra activity of one principal during `hours` hours from `start_hour` (hours after start).

    `principal` is a `PrincipalTruth.key` (an AWS service, shared by accounts, needs
    `<account>/<key>`). Every hour gets `max(1, round(magnitude * mean_rate))` extra events:
    - volume_spike: with the principal's usual APIs, IPs and user agents;
    - failed_burst: likewise, all denied (AccessDenied, Client.UnauthorizedOperation, ...);
    - new_geolocation: from one IP in a country the principal never uses;
    - new_aso: from one IP of an autonomous system it never uses, in its main country if possible;
    - new_user_agent: with a user agent it never uses;
    - new_api: calling one or two APIs it never calls (IAM, KMS, CloudTrail, S3 policy...).
    """

    kind: AnomalyKind
    principal: str
    start_hour: int
    hours: int = 1
    magnitude: float = 5.0


@dataclass(slots=True)
class PrincipalTruth:
    key: str  # the vertex key in the behavior graph
    label: str  # AwsUser, AwsRole (activity of its sessions), AwsService
    kind: str  # archetype: human, ci, root, external, role-human, role-instance, service...
    account: str  # the account whose trail records its calls
    home_account: str  # the account it belongs to (differs for external partners)
    name: str
    arn: str | None
    profile: str  # seasonality: human, ci or flat
    tz_offset: float
    mean_rate: float  # expected normal events per hour, averaged over a week
    expected_events: float  # expected normal events over the whole workload
    events: int = 0  # events written (normal traffic, session starts, launches)
    anomalous_events: int = 0
    sessions: int = 0  # role sessions started during the workload (roles only)
    ips: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    asns: list[int] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)  # "<eventSource>:<eventName>"
    regions: list[str] = field(default_factory=list)
    error_rate: float = 0.0


@dataclass(slots=True)
class InjectedAnomaly:
    kind: AnomalyKind
    principal: str
    label: str
    account: str
    start_hour: int
    hours: list[int]  # epoch seconds of each UTC hour with injected events
    events_per_hour: list[int]
    expected_per_hour: list[float]  # the principal's normal expectation in those hours
    magnitude: float
    ips: list[str] = field(default_factory=list)  # new values (only those the kind introduces)
    countries: list[str] = field(default_factory=list)
    asns: list[int] = field(default_factory=list)
    asos: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # role sessions that made the calls


@dataclass(slots=True)
class GenerateResult:
    out_dir: str
    accounts: list[str]
    start: int  # epoch seconds
    end: int
    seed: int
    files: int = 0
    events: int = 0
    bytes: int = 0  # compressed bytes written
    raw_bytes: int = 0  # JSON bytes before compression
    seconds: float = 0.0
    principals: list[PrincipalTruth] = field(default_factory=list)
    anomalies: list[InjectedAnomaly] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def principal(self, key: str) -> PrincipalTruth:
        for p in self.principals:
            if p.key == key or f"{p.account}/{p.key}" == key:
                return p
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["principals"] = [_shallow(p) for p in self.principals]
        out["anomalies"] = [_shallow(a) for a in self.anomalies]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenerateResult:
        data = dict(data)
        data["principals"] = [PrincipalTruth(**p) for p in data.get("principals", [])]
        data["anomalies"] = [InjectedAnomaly(**a) for a in data.get("anomalies", [])]
        return cls(**data)


def _shallow(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}


@dataclass(slots=True, eq=False)
class _Plan:
    anomaly: Anomaly
    p: int
    per_hour: int
    truth: InjectedAnomaly
    ip: int = -1
    ua: int = -1
    failed: bool = False
    entries: list[int] = field(default_factory=list)


class _GroundTruth(_SessionTables):
    """Anomaly plans and the ground truth of every principal."""

    # set by the event engine's run(); declared here because truths() reads them
    counts: Arr
    anomalous: Arr
    sessions_started: Arr

    # -- anomalies --------------------------------------------------------------------------------
    def plan(self, anomalies: Sequence[Anomaly]) -> None:
        ar = random.Random(f"gumshoe-anomalies-{self.seed}")
        self.plans: list[_Plan] = []
        self.plan_hours: dict[int, list[int]] = {}
        for a in anomalies:
            if a.kind not in ANOMALY_KINDS:
                raise ValueError(f"unknown anomaly kind {a.kind!r} (one of {ANOMALY_KINDS})")
            if a.hours < 1 or a.start_hour < 0 or a.start_hour + a.hours > self.hours:
                raise ValueError(f"{a}: hours outside the workload's {self.hours} hours")
            p = self.find(a.principal)
            ips, uas, apis = self.sets(p)
            acct = self.accounts[p.account]
            per_hour = max(1, round(a.magnitude * p.rate))
            hidx = list(range(a.start_hour, a.start_hour + a.hours))
            truth = InjectedAnomaly(
                kind=a.kind,
                principal=p.key,
                label=p.label,
                account=acct.id,
                start_hour=a.start_hour,
                hours=[self.t0 + h * HOUR for h in hidx],
                events_per_hour=[per_hour] * a.hours,
                expected_per_hour=[round(self.expected(p, h), 4) for h in hidx],
                magnitude=a.magnitude,
            )
            plan = _Plan(a, p.idx, per_hour, truth)
            if a.kind == "new_geolocation":
                seen = {self.ip_info[self.ips[i]][0] for i in ips if self.ips[i] in self.ip_info}
                country = ar.choice([c for c in FOREIGN_PREFIXES if c not in seen])
                plan.ip = self.draw_ips(FOREIGN_PREFIXES[country], 1, country)[0]
            elif a.kind == "new_aso":
                plan.ip = self._new_aso(p, ips, ar)
            elif a.kind == "new_user_agent":
                known = {self.uas[i] for i in uas}
                plan.ua = self._ua(ar.choice([u for u in UA_ANOMALIES if u not in known]))
                truth.user_agents = [self.uas[plan.ua]]
            elif a.kind == "new_api":
                cands = sorted(
                    api
                    for api, (s, n, flags, _, _) in self.api_specs.items()
                    if "s" in flags and f"{SERVICES[s].source}:{n}" not in apis
                )
                bucket = acct.buckets[p.buckets[0]]
                for api in ar.sample(cands, ar.randint(1, 2)):
                    scoped = "b" in self.api_specs[api][2]
                    plan.entries.append(
                        self.entry(api, (bucket[0], bucket[1], acct.id) if scoped else None)
                    )
                truth.apis = sorted({self.entries[e].api for e in plan.entries})
            elif a.kind == "failed_burst":
                plan.failed = True
                codes = set()
                for e in p.entries:
                    ent = self.entries[e]
                    codes.add(ent.errors[ent.denied][0] or ent.errors[ent.denied][1])
                truth.error_codes = sorted(codes)
            if plan.ip >= 0:
                c, asn, aso = self.ip_info[self.ips[plan.ip]]
                truth.ips, truth.countries, truth.asns, truth.asos = (
                    [self.ips[plan.ip]],
                    [c],
                    [asn],
                    [aso],
                )
            self.plans.append(plan)
            for h in hidx:
                self.plan_hours.setdefault(h, []).append(len(self.plans) - 1)
        self._refresh_tables()

    def _new_aso(self, p: _P, ips: set[int], ar: random.Random) -> int:
        known = {self.ip_info[self.ips[i]][1] for i in ips if self.ips[i] in self.ip_info}
        country = p.country
        options = [(pre, country) for pre in HOSTING_PREFIXES.get(country, ())]
        options += [(pre, country) for pre in ISP_PREFIXES.get(country, ())]
        ar.shuffle(options)
        options += [(pre, "US") for pre in HOSTING_PREFIXES["US"]]
        for prefix, c in options:
            for ip in self.draw_ips((prefix,), 8, c):
                if self.ip_info[self.ips[ip]][1] not in known:
                    return ip
        raise RuntimeError(f"no new autonomous system found for {p.key}")

    # -- ground truth -----------------------------------------------------------------------------
    def truths(self) -> list[PrincipalTruth]:
        totals = self.season.sum(axis=1)
        counts = getattr(self, "counts", None)
        out = []
        for p in self.ps:
            ips, uas, apis = self.sets(p)
            infos = [self.ip_info[self.ips[i]] for i in ips if self.ips[i] in self.ip_info]
            acct = self.accounts[p.account]
            out.append(
                PrincipalTruth(
                    key=p.key,
                    label=p.label,
                    kind=p.kind,
                    account=acct.id,
                    home_account=p.home,
                    name=p.name,
                    arn=p.arn,
                    profile=p.profile,
                    tz_offset=acct.tz,
                    mean_rate=round(p.rate, 6),
                    expected_events=round(float(self.base[p.idx] * totals[self.p_group[p.idx]]), 3),
                    events=int(counts[p.idx]) if counts is not None else 0,
                    anomalous_events=int(self.anomalous[p.idx]) if counts is not None else 0,
                    sessions=int(self.sessions_started[p.idx]) if counts is not None else 0,
                    ips=sorted(self.ips[i] for i in ips),
                    countries=sorted({c for c, _, _ in infos}),
                    asns=sorted({asn for _, asn, _ in infos}),
                    user_agents=sorted(self.uas[i] for i in uas),
                    apis=sorted(apis),
                    regions=sorted({REGIONS[r].name for r in p.regions}),
                    error_rate=round(p.err, 5),
                )
            )
        return out


def random_anomalies(
    population: Sequence[PrincipalTruth], *, days: int, count: int, seed: int = 0,
    kinds: Sequence[AnomalyKind] = ANOMALY_KINDS,
) -> list[Anomaly]:  # fmt: skip
    """`count` anomalies on random busy-enough people, CI users and roles, after the first day."""
    r = random.Random(f"gumshoe-random-anomalies-{seed}")
    eligible = [
        p
        for p in population
        if p.kind in ("human", "ci", "role-human", "role-deploy", "role-instance", "role-lambda")
        and p.mean_rate >= 0.5
    ]
    if not eligible:
        raise ValueError("no principal is busy enough for anomalies")
    hours = days * 24
    if hours < 30:
        raise ValueError("random anomalies need at least two days")
    magnitudes = {"volume_spike": 8.0, "failed_burst": 3.0}
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        p = r.choice(eligible)
        length = r.randint(1, 3)
        out.append(
            Anomaly(
                kind=kind,
                principal=p.key,
                start_hour=r.randint(24, hours - length),
                hours=length,
                magnitude=magnitudes.get(kind, 0.5),
            )
        )
    return out
