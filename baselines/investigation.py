"""Investigations: score an IAM user or role over a scope as Detective does, as indicators.

`run_investigation` reads the entity's findings (and those of its role sessions), their finding
groups, its newly observed behavior and the addresses it used, and returns every indicator with
the investigation's severity. An address is flagged when the threat list holds it or when a
GuardDuty finding anywhere in the graph named it as a known threat (MaliciousIPCaller,
TorIPCaller, C&CActivity, ... findings: AWS's threat intelligence and the account's own lists,
`indicators.intel_flagged`). It writes nothing: persisting results is the engine's job
(baselines.investigation_engine), so the rules can be tested on a bare store.

Severity of an investigation is the highest severity among its indicators, where:
- RELATED_FINDING and TTP_OBSERVED take the GuardDuty severity label of their finding
  (>= 9 CRITICAL, >= 7 HIGH, >= 4 MEDIUM, > 0 LOW, 0 INFORMATIONAL);
- IMPOSSIBLE_TRAVEL and FLAGGED_IP_ADDRESS are HIGH, raised to CRITICAL when the scope also
  has a HIGH or CRITICAL finding (credentials used from an impossible or known-bad place while
  GuardDuty saw an attack is the compromise pattern an analyst must see first);
- RELATED_FINDING_GROUP and a NEW_GEOLOCATION in a new country are MEDIUM;
- NEW_ASO, NEW_USER_AGENT and a new city of a familiar country are LOW;
- no indicators: INFORMATIONAL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.indicators import (
    FoundIndicator,
    finding_indicators,
    flagged_indicators,
    group_indicators,
    intel_flagged,
    ip_uses,
    new_behavior_indicators,
    related_findings,
    travel_indicators,
)
from baselines.new_behaviors import new_behaviors
from baselines.threat_list import ThreatList, load_threat_list
from baselines.window import MAX_SCOPE
from graph.model import (
    ASSUMED_ROLE,
    HOUR,
    ROLE,
    SESSION,
    STARTED_SESSION,
    USER,
    VertexRef,
)
from graph.store import Direction, GraphStore

SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
ENTITY_LABELS = {"user": USER, "role": ROLE}


@dataclass(frozen=True, slots=True)
class InvestigationConfig:
    baseline: BaselineConfig = DEFAULT_CONFIG
    max_speed_kmh: float = 1000.0  # faster than an airliner, door to door
    max_ips: int = 200  # addresses read hour by hour for travel (the busiest ones)
    threat_list: ThreatList | None = None  # None: load_threat_list() (GUMSHOE_THREAT_LIST)


@dataclass(frozen=True, slots=True)
class InvestigationResult:
    entity: VertexRef
    start: int
    end: int
    severity: str
    indicators: tuple[FoundIndicator, ...]
    sessions: int = 0  # role sessions whose findings were included
    notes: tuple[str, ...] = field(default_factory=tuple)


def find_entity(store: GraphStore, graph: str, entity_arn: str) -> VertexRef | None:
    """The AwsUser or AwsRole vertex whose ARN is `entity_arn` (one search read)."""
    kind = entity_arn.split(":", 5)[-1].split("/", 1)[0]
    label = ENTITY_LABELS.get(kind)
    if label is None:
        return None
    page = store.search(graph, label, entity_arn, limit=20)
    for v in page.vertices:
        if v.props.get("arn") == entity_arn:
            return v.ref
    return None


def severity_of(indicators: tuple[FoundIndicator, ...]) -> str:
    if not indicators:
        return "INFORMATIONAL"
    worst = max(SEVERITIES.index(i.severity) for i in indicators)
    findings_high = any(
        i.indicator_type in ("RELATED_FINDING", "TTP_OBSERVED") and i.severity in SEVERITIES[3:]
        for i in indicators
    )
    place = any(i.indicator_type in ("IMPOSSIBLE_TRAVEL", "FLAGGED_IP_ADDRESS") for i in indicators)
    if findings_high and place:
        return "CRITICAL"
    return SEVERITIES[worst]


def _sessions(
    store: GraphStore, graph: str, entity: VertexRef, start: int, end: int
) -> list[VertexRef]:
    """A role's sessions, or the sessions a user started, active in the scope."""
    if entity.label == ROLE:
        edges = store.neighbours(
            graph, [entity], ASSUMED_ROLE, direction=Direction.IN, start=start, end=end
        )
    else:
        edges = store.neighbours(
            graph, [entity], STARTED_SESSION, direction=Direction.OUT, start=start, end=end
        )
    return sorted({n.ref for n in edges.get(entity, []) if n.ref.label == SESSION})


def run_investigation(
    *,
    store: GraphStore,
    graph: str,
    entity: VertexRef,
    start: int,
    end: int,
    config: InvestigationConfig | None = None,
) -> InvestigationResult:
    cfg = config or InvestigationConfig()
    threats = cfg.threat_list or load_threat_list()
    # the graph counts by the hour: widen the scope to whole hours (Detective's API takes any time)
    start, end = int(start), int(end)
    start = start - start % HOUR
    end = end if end % HOUR == 0 else end - end % HOUR + HOUR
    end = min(end, start + MAX_SCOPE)  # widening must not push a one-year scope past the limit
    sessions = _sessions(store, graph, entity, start, end)
    findings = related_findings(store, graph, [entity, *sessions], start, end)
    found: list[FoundIndicator] = finding_indicators(findings)
    if findings:
        found += group_indicators(store, graph, findings)
    behaviors = new_behaviors(
        store=store, graph=graph, principal=entity, start=start, end=end, config=cfg.baseline
    )
    found += new_behavior_indicators(behaviors)
    uses = ip_uses(store, graph, entity, start, end, max_ips=cfg.max_ips)
    found += travel_indicators(uses, max_speed_kmh=cfg.max_speed_kmh)
    intel = intel_flagged(store, graph, [u.address for u in uses])
    found += flagged_indicators(uses, threats, intel)
    notes = (behaviors.training.message,) if behaviors.training is not None else ()
    indicators = tuple(found)
    return InvestigationResult(
        entity=entity,
        start=start,
        end=end,
        severity=severity_of(indicators),
        indicators=indicators,
        sessions=len(sessions),
        notes=notes,
    )


def indicator_counts(indicators: tuple[FoundIndicator, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in indicators:
        counts[i.indicator_type] = counts.get(i.indicator_type, 0) + 1
    return counts


def report_of(result: InvestigationResult) -> dict[str, Any]:
    """The JSON body of a result (the engine adds the investigation's identity and state)."""
    return {
        "Severity": result.severity,
        "ScopeStartTime": result.start,
        "ScopeEndTime": result.end,
        "IndicatorCounts": indicator_counts(result.indicators),
        "Indicators": [
            {"IndicatorType": i.indicator_type, "IndicatorDetail": i.detail}
            for i in result.indicators
        ],
        "Notes": list(result.notes),
    }
