"""The indicator rules of an investigation, each from a few batched store reads.

Details are wire-shaped as botocore's IndicatorDetail (`{"TTPsObservedDetail": {...}}`), so the
REST layer passes them through and the JSON report is what ListIndicators returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from baselines import tactics
from baselines.new_behaviors import NewBehaviors
from baselines.threat_list import ThreatList
from baselines.travel import least_distance_km
from graph.model import FINDING, IN_GROUP, INVOLVES, IP, USED_IP, VertexRef
from graph.store import Direction, GraphStore

HOUR = 3600

# GuardDuty finding type → MITRE ATT&CK technique, where AWS documents one clearly. Other types
# still get a TTP indicator with the tactic of their threat purpose and no technique.
TECHNIQUES: dict[str, str] = {
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS": "T1552.005",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS": "T1552.005",
    "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B": "T1078.004",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller": "T1078.004",
    "UnauthorizedAccess:IAMUser/TorIPCaller": "T1090.003",
    "InitialAccess:IAMUser/AnomalousBehavior": "T1078.004",
    "Policy:IAMUser/RootCredentialUsage": "T1078.004",
    "Recon:IAMUser/MaliciousIPCaller": "T1580",
    "Recon:IAMUser/TorIPCaller": "T1580",
    "Discovery:IAMUser/AnomalousBehavior": "T1580",
    "Discovery:S3/MaliciousIPCaller": "T1619",
    "Persistence:IAMUser/AnomalousBehavior": "T1098",
    "PrivilegeEscalation:IAMUser/AnomalousBehavior": "T1098",
    "CredentialAccess:IAMUser/AnomalousBehavior": "T1552",
    "DefenseEvasion:IAMUser/AnomalousBehavior": "T1562.008",
    "Stealth:IAMUser/CloudTrailLoggingDisabled": "T1562.008",
    "Stealth:S3/ServerAccessLoggingDisabled": "T1562.008",
    "Exfiltration:S3/AnomalousBehavior": "T1530",
    "Exfiltration:S3/MaliciousIPCaller": "T1530",
    "Exfiltration:IAMUser/AnomalousBehavior": "T1537",
    "Impact:S3/AnomalousBehavior.Delete": "T1485",
    "Impact:IAMUser/AnomalousBehavior": "T1496",
    "CryptoCurrency:EC2/BitcoinTool.B": "T1496",
    "CryptoCurrency:EC2/BitcoinTool.B!DNS": "T1496",
    "Backdoor:EC2/C&CActivity.B": "T1071",
    "Backdoor:EC2/C&CActivity.B!DNS": "T1071.004",
    "UnauthorizedAccess:EC2/SSHBruteForce": "T1110",
    "UnauthorizedAccess:EC2/RDPBruteForce": "T1110",
}


@dataclass(frozen=True, slots=True)
class FoundIndicator:
    indicator_type: str
    detail: dict[str, Any]  # IndicatorDetail, wire-shaped
    # INFORMATIONAL..CRITICAL: what this indicator alone says (see investigation.severity_of)
    severity: str


@dataclass(frozen=True, slots=True)
class RelatedFinding:
    ref: VertexRef
    arn: str
    type: str
    severity: float  # GuardDuty's 0-10 scale
    ip: str | None  # a remote address the finding names, if any


@dataclass(frozen=True, slots=True)
class IpUse:
    hour: int
    address: str
    country: str | None


def _finding_severity(score: float) -> str:
    return tactics.severity_label(score).upper()


def related_findings(
    store: GraphStore, graph: str, entities: Sequence[VertexRef], start: int, end: int
) -> list[RelatedFinding]:
    """Findings active in the scope that involve any of `entities` (2-3 store reads)."""
    around = store.neighbours(
        graph, list(entities), INVOLVES, direction=Direction.IN, start=start, end=end
    )
    refs = sorted({n.ref for ns in around.values() for n in ns if n.ref.label == FINDING})
    if not refs:
        return []
    vertices = store.vertices(graph, refs)
    remote = store.neighbours(graph, refs, INVOLVES, direction=Direction.OUT,
                              other_labels=frozenset({IP}))  # fmt: skip
    out = []
    for ref in refs:
        v = vertices.get(ref)
        if v is None:
            continue
        score = v.props.get("severity")
        ips = sorted(n.ref.key for n in remote.get(ref, ()))
        out.append(
            RelatedFinding(
                ref=ref,
                arn=str(v.props.get("arn") or ref.key),
                type=str(v.props.get("type") or ""),
                severity=float(score) if isinstance(score, int | float) else 0.0,
                ip=ips[0] if ips else None,
            )
        )
    return out


def finding_indicators(findings: Sequence[RelatedFinding]) -> list[FoundIndicator]:
    """RELATED_FINDING for each finding; TTP_OBSERVED for each distinct finding type."""
    out = []
    for f in findings:
        detail: dict[str, Any] = {"Arn": f.arn, "Type": f.type}
        if f.ip:
            detail["IpAddress"] = f.ip
        out.append(FoundIndicator("RELATED_FINDING", {"RelatedFindingDetail": detail},
                                  _finding_severity(f.severity)))  # fmt: skip
    worst: dict[str, RelatedFinding] = {}
    for f in findings:
        if f.type and (f.type not in worst or f.severity > worst[f.type].severity):
            worst[f.type] = f
    for ftype, f in sorted(worst.items()):
        ttp: dict[str, Any] = {"Tactic": tactics.tactic(ftype), "Procedure": ftype}
        if ftype in TECHNIQUES:
            ttp["Technique"] = TECHNIQUES[ftype]
        if f.ip:
            ttp["IpAddress"] = f.ip
        out.append(FoundIndicator("TTP_OBSERVED", {"TTPsObservedDetail": ttp},
                                  _finding_severity(f.severity)))  # fmt: skip
    return out


def group_indicators(
    store: GraphStore, graph: str, findings: Sequence[RelatedFinding]
) -> list[FoundIndicator]:
    groups = store.neighbours(graph, [f.ref for f in findings], IN_GROUP, direction=Direction.OUT)
    ids = sorted({n.ref.key for ns in groups.values() for n in ns})
    return [
        FoundIndicator(
            "RELATED_FINDING_GROUP", {"RelatedFindingGroupDetail": {"Id": gid}}, "MEDIUM"
        )
        for gid in ids
    ]


def new_behavior_indicators(nb: NewBehaviors) -> list[FoundIndicator]:
    out = []
    for b in nb.geolocations:
        detail: dict[str, Any] = {"Location": b.name}
        if b.addresses:
            detail["IpAddress"] = b.addresses[0]
        if b.new_for_account is not None:
            detail["IsNewForEntireAccount"] = b.new_for_account
        # a new country is worth more attention than a new city of a familiar one
        sev = "MEDIUM" if b.country_new else "LOW"
        out.append(FoundIndicator("NEW_GEOLOCATION", {"NewGeolocationDetail": detail}, sev))
    for kind, items, name in (
        ("NEW_ASO", nb.asos, "Aso"),
        ("NEW_USER_AGENT", nb.user_agents, "UserAgent"),
    ):
        shape = "NewAsoDetail" if kind == "NEW_ASO" else "NewUserAgentDetail"
        for b in items:
            d: dict[str, Any] = {name: b.name}
            if b.new_for_account is not None:
                d["IsNewForEntireAccount"] = b.new_for_account
            out.append(FoundIndicator(kind, {shape: d}, "LOW"))
    return out


def ip_uses(
    store: GraphStore, graph: str, entity: VertexRef, start: int, end: int, *, max_ips: int
) -> list[IpUse]:
    """The hours in which the entity used each address in the scope (three reads; the busiest
    `max_ips` addresses only, so a scanner-like principal stays bounded)."""
    used = store.neighbours(graph, [entity], USED_IP, direction=Direction.OUT, start=start, end=end)
    rows = sorted(used.get(entity, []), key=lambda n: (-sum(n.counts), n.ref.key))[:max_ips]
    if not rows:
        return []
    addresses = [n.ref for n in rows]
    props = store.vertices(graph, addresses)
    # the addresses are the near ends: one read gives each its own hours with this entity
    hours = store.series(graph, addresses, USED_IP, direction=Direction.IN, start=start, end=end,
                         others=[entity])  # fmt: skip
    out = []
    for ref in addresses:
        v = props.get(ref)
        country = v.props.get("country") if v is not None else None
        for hour, _ in hours.get(ref, []):
            out.append(IpUse(hour, ref.key, str(country).upper() if country else None))
    return sorted(out, key=lambda u: (u.hour, u.address))


def travel_indicators(uses: Sequence[IpUse], *, max_speed_kmh: float) -> list[FoundIndicator]:
    """IMPOSSIBLE_TRAVEL between successive uses from different countries whose least distance
    (baselines.travel: 0 for land neighbours, otherwise centres less each country's extent) is
    more than `max_speed_kmh` allows in the time between their hours. Activity is counted per
    hour, so uses in the same or adjacent hours are taken to be one hour apart (the least the
    data can tell apart), never zero."""
    located = [u for u in uses if u.country]
    out, seen = [], set()
    for a, b in zip(located, located[1:], strict=False):
        if a.country == b.country:
            continue
        km = least_distance_km(a.country or "", b.country or "")
        hours = max((b.hour - a.hour) // HOUR, 1)
        pair = (a.address, b.address)
        if km is not None and km / hours > max_speed_kmh and pair not in seen:
            seen.add(pair)
            detail = {
                "StartingIpAddress": a.address,
                "EndingIpAddress": b.address,
                "StartingLocation": a.country,
                "EndingLocation": b.country,
                "HourlyTimeDelta": (b.hour - a.hour) // HOUR,
            }
            out.append(FoundIndicator("IMPOSSIBLE_TRAVEL", {"ImpossibleTravelDetail": detail},
                                      "HIGH"))  # fmt: skip
    return out


# GuardDuty finding types raised because a remote address is on a threat list (AWS's or the
# account's own): the text after the resource type, up to its first '.' or '!'.
_THREAT_INTEL_NAMES = frozenset(
    {
        "MaliciousIPCaller",
        "TorIPCaller",
        "TorClient",
        "TorRelay",
        "C&CActivity",
        "BitcoinTool",
        "BlackholeTraffic",
        "DropPoint",
    }
)


def threat_intel_type(finding_type: str) -> bool:
    """Whether a GuardDuty finding of this type says its remote address is a known threat."""
    name = finding_type.rsplit("/", 1)[-1]
    return name.split(".", 1)[0].split("!", 1)[0] in _THREAT_INTEL_NAMES


def intel_flagged(store: GraphStore, graph: str, addresses: Sequence[str]) -> set[str]:
    """The addresses that some GuardDuty finding in the graph names as a known threat (one of
    `threat_intel_type`, neither archived nor a sample), at any time: threat intelligence is
    what is known now, not only in the scope. Two store reads."""
    refs = [VertexRef(IP, a) for a in dict.fromkeys(addresses)]
    if not refs:
        return set()
    around = store.neighbours(graph, refs, INVOLVES, direction=Direction.IN,
                              other_labels=frozenset({FINDING}), counts=False)  # fmt: skip
    findings = sorted({n.ref for ns in around.values() for n in ns})
    if not findings:
        return set()
    vertices = store.vertices(graph, findings)
    threats = {
        ref
        for ref in findings
        if (v := vertices.get(ref)) is not None
        and threat_intel_type(str(v.props.get("type") or ""))
        and not v.props.get("archived")
        and not v.props.get("sample")
    }
    return {ip.key for ip, ns in around.items() if any(n.ref in threats for n in ns)}


def flagged_indicators(
    uses: Sequence[IpUse], threats: ThreatList, intel: set[str] | frozenset[str] = frozenset()
) -> list[FoundIndicator]:
    """FLAGGED_IP_ADDRESS for each address used in the scope that the threat list holds or that
    GuardDuty's threat intelligence named (`intel`, from `intel_flagged`)."""
    flagged = {u.address for u in uses if u.address in intel or threats.flagged(u.address)}
    addresses = sorted(flagged)
    return [
        FoundIndicator(
            "FLAGGED_IP_ADDRESS",
            {"FlaggedIpAddressDetail": {"IpAddress": a, "Reason": "AWS_THREAT_INTELLIGENCE"}},
            "HIGH",
        )
        for a in addresses
    ]
