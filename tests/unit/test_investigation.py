"""Investigation indicator rules, each read from a real SQLite store built by hand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baselines.indicators import FoundIndicator, ip_uses
from baselines.investigation import (
    InvestigationConfig,
    find_entity,
    report_of,
    run_investigation,
    severity_of,
)
from baselines.threat_list import parse_threat_list
from graph.batch import DeltaBuffer
from graph.model import (
    ACCOUNT,
    AGENT,
    ANNOUNCED_BY,
    ASO,
    ASSUMED_ROLE,
    FINDING,
    FINDING_GROUP,
    GEO,
    IN_GROUP,
    INVOLVES,
    IP,
    LOCATED_IN,
    ROLE,
    SESSION,
    USED_AGENT,
    USED_IP,
    USER,
    VertexRef,
)
from graph.sqlite import SqliteStore
from graph.store import GraphInfo, GraphStore
from tests.conftest import GRAPH

H = 3600
DAY = 86_400
SCOPE = 1_745_452_800  # 2025-04-24 00:00 UTC
ACCT = VertexRef(ACCOUNT, "111122223333")
ROLE_ARN = "arn:aws:iam::111122223333:role/deployer"
USER_ARN = "arn:aws:iam::111122223333:user/quiet"
DEPLOYER = VertexRef(ROLE, "AROADEPLOYER")
SESSION_1 = VertexRef(SESSION, "AROADEPLOYER:ci-1")
QUIET = VertexRef(USER, "AIDAQUIET")
CLI, CURL = VertexRef(AGENT, "aws-cli/2.13.0"), VertexRef(AGENT, "curl/8.5.0")
F_HIGH = VertexRef(FINDING, "f-exfil")
F_LOW = VertexRef(FINDING, "f-recon")
F_OLD = VertexRef(FINDING, "f-old")  # before the scope
GROUP = VertexRef(FINDING_GROUP, "g-1")
# address -> (country, ASN, organization)
PLACES = {
    "73.1.1.1": ("US", "AS7922", "Comcast"),  # home, in the baseline
    "79.192.1.1": ("DE", "AS3320", "Deutsche Telekom"),  # one hour after home: impossible
    "198.51.100.7": ("US", "AS7922", "Comcast"),  # on the shipped (documentation) threat list
}
EXFIL = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
RECON = "Recon:IAMUser/UnusualVendor"  # no technique mapped


@pytest.fixture(autouse=True)
def shipped_threat_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The expectations below are those of the shipped list, whatever the environment says."""
    monkeypatch.delenv("GUMSHOE_THREAT_LIST", raising=False)


def _use(buf: DeltaBuffer, who: VertexRef, at: int, addr: str, agent: VertexRef) -> None:
    for src in (who, ACCT):
        buf.edge(USED_IP, src, VertexRef(IP, addr), at, (1, 0))
        buf.edge(USED_AGENT, src, agent, at, (1, 0))


def build(store: GraphStore, graph: str = GRAPH) -> None:
    """The activity above, also loaded by the REST end-to-end test."""
    buf = DeltaBuffer()
    buf.vertex(DEPLOYER, SCOPE - 40 * DAY, None, {"arn": ROLE_ARN, "account": ACCT.key})
    buf.vertex(QUIET, SCOPE - 40 * DAY, None, {"arn": USER_ARN, "account": ACCT.key})
    for addr, (country, aso, org) in PLACES.items():
        buf.vertex(VertexRef(IP, addr), SCOPE - 90 * DAY, None, {"country": country})
        buf.vertex(VertexRef(ASO, aso), SCOPE - 90 * DAY, None, {"organization": org})
        buf.edge(LOCATED_IN, VertexRef(IP, addr), VertexRef(GEO, country), SCOPE - 90 * DAY, (1,))
        buf.edge(ANNOUNCED_BY, VertexRef(IP, addr), VertexRef(ASO, aso), SCOPE - 90 * DAY, (1,))
    for day in range(1, 40, 2):  # a familiar baseline: home, the CLI
        _use(buf, DEPLOYER, SCOPE - day * DAY, "73.1.1.1", CLI)
        _use(buf, QUIET, SCOPE - day * DAY, "73.1.1.1", CLI)
    _use(buf, QUIET, SCOPE + 3 * H, "73.1.1.1", CLI)  # nothing unusual
    # the scope: home at 09:00, Germany at 10:00 with curl, the flagged address at 12:00
    _use(buf, DEPLOYER, SCOPE + 9 * H, "73.1.1.1", CLI)
    _use(buf, DEPLOYER, SCOPE + 10 * H, "79.192.1.1", CURL)
    _use(buf, DEPLOYER, SCOPE + 12 * H, "198.51.100.7", CLI)
    buf.edge(ASSUMED_ROLE, SESSION_1, DEPLOYER, SCOPE + 9 * H, (1,))
    for ref, ftype, sev, at in (
        (F_HIGH, EXFIL, 8.0, SCOPE + 11 * H),
        (F_LOW, RECON, 2.0, SCOPE + 10 * H),
        (F_OLD, EXFIL, 9.5, SCOPE - 20 * DAY),
    ):
        buf.vertex(ref, at, None, {"type": ftype, "severity": sev, "arn": f"arn:gd:{ref.key}"})
    buf.edge(INVOLVES, F_HIGH, SESSION_1, SCOPE + 11 * H, (1,), "actor")  # via the session
    buf.edge(INVOLVES, F_HIGH, VertexRef(IP, "79.192.1.1"), SCOPE + 11 * H, (1,), "remote")
    buf.edge(INVOLVES, F_LOW, DEPLOYER, SCOPE + 10 * H, (1,), "target")
    buf.edge(INVOLVES, F_OLD, DEPLOYER, SCOPE - 20 * DAY, (1,), "target")
    buf.edge(IN_GROUP, F_HIGH, GROUP, SCOPE + 11 * H, (1,))
    store.write(buf.take(graph, []))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    s = SqliteStore(Path(tmp_path_factory.mktemp("investigation")) / "graph.db")
    s.create_graph(GraphInfo(GRAPH, ACCT.key, 1_700_000_000))
    build(s)
    yield s
    s.close()


def _run(store: GraphStore, who: VertexRef = DEPLOYER, **cfg: Any) -> Any:
    return run_investigation(store=store, graph=GRAPH, entity=who, start=SCOPE,
                             end=SCOPE + DAY, config=InvestigationConfig(**cfg))  # fmt: skip


def details(result: Any, kind: str) -> list[dict[str, Any]]:
    return [next(iter(i.detail.values())) for i in result.indicators if i.indicator_type == kind]


def test_entities_are_found_by_arn(store: SqliteStore) -> None:
    assert find_entity(store, GRAPH, ROLE_ARN) == DEPLOYER
    assert find_entity(store, GRAPH, USER_ARN) == QUIET
    assert find_entity(store, GRAPH, "arn:aws:iam::111122223333:role/nobody") is None


def test_related_findings_include_the_sessions_and_only_the_scope(store: SqliteStore) -> None:
    found = {d["Arn"]: d for d in details(_run(store), "RELATED_FINDING")}
    assert set(found) == {"arn:gd:f-exfil", "arn:gd:f-recon"}  # not the one 20 days ago
    assert found["arn:gd:f-exfil"] == {"Arn": "arn:gd:f-exfil", "Type": EXFIL,
                                       "IpAddress": "79.192.1.1"}  # fmt: skip
    assert "IpAddress" not in found["arn:gd:f-recon"]


def test_ttps_map_finding_types_to_tactics_and_techniques(store: SqliteStore) -> None:
    ttps = {d["Procedure"]: d for d in details(_run(store), "TTP_OBSERVED")}
    assert ttps[EXFIL]["Tactic"] == "Initial Access"
    assert ttps[EXFIL]["Technique"] == "T1552.005"
    assert ttps[RECON]["Tactic"] == "Discovery" and "Technique" not in ttps[RECON]


def test_finding_groups_of_the_related_findings(store: SqliteStore) -> None:
    assert details(_run(store), "RELATED_FINDING_GROUP") == [{"Id": "g-1"}]


def test_impossible_travel_between_successive_hours(store: SqliteStore) -> None:
    # US -> DE in one hour (~7,800 km/h), then DE -> US in two (~3,900 km/h): both impossible
    trip, back = details(_run(store), "IMPOSSIBLE_TRAVEL")
    assert back["HourlyTimeDelta"] == 2 and back["EndingIpAddress"] == "198.51.100.7"
    assert trip == {"StartingIpAddress": "73.1.1.1", "EndingIpAddress": "79.192.1.1",
                    "StartingLocation": "US", "EndingLocation": "DE",
                    "HourlyTimeDelta": 1}  # fmt: skip
    (fast,) = details(_run(store, max_speed_kmh=5000), "IMPOSSIBLE_TRAVEL")
    assert fast == trip
    assert details(_run(store, max_speed_kmh=10_000), "IMPOSSIBLE_TRAVEL") == []


def test_flagged_addresses_come_from_a_replaceable_list(store: SqliteStore) -> None:
    assert details(_run(store), "FLAGGED_IP_ADDRESS") == [
        {"IpAddress": "198.51.100.7", "Reason": "AWS_THREAT_INTELLIGENCE"}
    ]
    mine = parse_threat_list("79.192.0.0/16  # a user's own list\n")
    flagged = details(_run(store, threat_list=mine), "FLAGGED_IP_ADDRESS")
    assert [d["IpAddress"] for d in flagged] == ["79.192.1.1"]


@pytest.mark.parametrize(
    ("ftype", "props", "flagged"),
    [
        ("UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom", {}, True),
        ("Recon:IAMUser/TorIPCaller", {}, True),
        ("Backdoor:EC2/C&CActivity.B!DNS", {}, True),
        ("UnauthorizedAccess:IAMUser/MaliciousIPCaller", {"archived": True}, False),
        ("UnauthorizedAccess:IAMUser/MaliciousIPCaller", {"sample": True}, False),
        ("Recon:IAMUser/UnusualVendor", {}, False),  # names the address, not as a threat
    ],
)
def test_addresses_guardduty_named_as_threats_are_flagged(
    tmp_path: Path, ftype: str, props: dict[str, Any], flagged: bool
) -> None:
    # a finding about another user, weeks before the scope, named the deployer's home address
    s = SqliteStore(tmp_path / "intel.db")
    s.create_graph(GraphInfo(GRAPH, ACCT.key, 1_700_000_000))
    build(s)
    buf = DeltaBuffer()
    other = VertexRef(FINDING, "f-intel")
    buf.vertex(other, SCOPE - 30 * DAY, None, {"type": ftype, "severity": 5.0, **props})
    buf.edge(INVOLVES, other, QUIET, SCOPE - 30 * DAY, (1,), "target")
    buf.edge(INVOLVES, other, VertexRef(IP, "73.1.1.1"), SCOPE - 30 * DAY, (1,), "remote")
    s.write(buf.take(GRAPH, []))
    try:
        addresses = [d["IpAddress"] for d in details(_run(s), "FLAGGED_IP_ADDRESS")]
        # the shipped list's address stays flagged either way
        assert addresses == (["198.51.100.7", "73.1.1.1"] if flagged else ["198.51.100.7"])
        assert "f-intel" not in {d["Arn"] for d in details(_run(s), "RELATED_FINDING")}
    finally:
        s.close()


def test_threat_list_env_var_replaces_the_shipped_one(
    store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "list.txt"
    path.write_text("73.1.1.1\n")
    monkeypatch.setenv("GUMSHOE_THREAT_LIST", str(path))
    assert [d["IpAddress"] for d in details(_run(store), "FLAGGED_IP_ADDRESS")] == ["73.1.1.1"]
    path.write_text("not-an-address\n")
    with pytest.raises(ValueError, match="entry 1"):
        _run(store)


def test_new_behaviors_become_indicators(store: SqliteStore) -> None:
    result = _run(store)
    assert details(result, "NEW_USER_AGENT") == [
        {"UserAgent": "curl/8.5.0", "IsNewForEntireAccount": True}
    ]
    geos = details(result, "NEW_GEOLOCATION")
    assert [(g["Location"], g["IpAddress"]) for g in geos] == [("DE", "79.192.1.1")]
    assert [a["Aso"] for a in details(result, "NEW_ASO")] == ["Deutsche Telekom"]


def test_severity_rule(store: SqliteStore) -> None:
    # a HIGH finding and a flagged address / impossible travel together: CRITICAL
    assert _run(store).severity == "CRITICAL"
    assert _run(store, QUIET).severity == "INFORMATIONAL" and _run(store, QUIET).indicators == ()

    def ind(kind: str, sev: str) -> FoundIndicator:
        return FoundIndicator(kind, {}, sev)

    assert severity_of((ind("NEW_ASO", "LOW"), ind("RELATED_FINDING_GROUP", "MEDIUM"))) == "MEDIUM"
    assert severity_of((ind("FLAGGED_IP_ADDRESS", "HIGH"), ind("RELATED_FINDING", "LOW"))) == "HIGH"


def test_report_is_json_serializable(store: SqliteStore) -> None:
    import json

    report = report_of(_run(store))
    assert json.loads(json.dumps(report))["IndicatorCounts"]["RELATED_FINDING"] == 2
    assert report["Severity"] == "CRITICAL"


def test_scopes_off_the_hour_and_of_a_whole_year_are_widened_within_limits(
    store: SqliteStore,
) -> None:
    off = run_investigation(store=store, graph=GRAPH, entity=DEPLOYER, start=SCOPE + 1800,
                            end=SCOPE + DAY - 60)  # fmt: skip
    assert (off.start, off.end) == (SCOPE, SCOPE + DAY)
    year = run_investigation(store=store, graph=GRAPH, entity=DEPLOYER, start=SCOPE - 1800,
                             end=SCOPE - 1800 + 366 * DAY)  # fmt: skip
    assert year.end - year.start == 366 * DAY and year.start == SCOPE - H


def test_addresses_used_are_read_in_three_calls_whatever_their_number(store: SqliteStore) -> None:
    calls: Counter[str] = Counter()

    class Counting:
        def __getattr__(self, name: str) -> Any:
            calls[name] += 1
            return getattr(store, name)

    uses = ip_uses(Counting(), GRAPH, DEPLOYER, SCOPE, SCOPE + DAY, max_ips=50)  # type: ignore[arg-type]
    assert [(u.hour, u.address, u.country) for u in uses] == [
        (SCOPE + 9 * H, "73.1.1.1", "US"),
        (SCOPE + 10 * H, "79.192.1.1", "DE"),
        (SCOPE + 12 * H, "198.51.100.7", "US"),
    ]
    assert calls == Counter({"neighbours": 1, "vertices": 1, "series": 1})
