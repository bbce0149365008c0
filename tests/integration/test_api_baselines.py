"""Baselines through the GraphQL API (uvicorn + httpx): expected values and bounds on every
hourly bucket of API call and VPC flow volume, increased volume, training notices, and new
behavior from baselines.new_behaviors.

The fixture is written through the store contract, so every number below is known: a user
(STEADY) who called GetObject 3 times an hour for the 44 days before the scope day D, and in the
scope the same, except 300 calls at 10:00 and 3 more calls at 11:00 from a new address in a new
country with a new user agent, plus a first ListBuckets; a user with only five days of history
(NEWBIE); an instance whose interface sent the same bytes every hour and ten times more at 05:00.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from api.app import create_app
from api.auth import Authenticator, parse_credentials
from api.services import activity_baselines, flows
from api.services.behaviors import new_behaviors
from api.services.reads import CachedReads
from api.services.scope import Scope
from baselines.cache import BaselineCache
from graph.batch import DeltaBuffer
from graph.model import (
    ACCOUNT,
    AGENT,
    ANNOUNCED_BY,
    API,
    ASO,
    BELONGS_TO,
    CALLED,
    ENI,
    FLOW,
    GEO,
    HAS_INTERFACE,
    INSTANCE,
    IP,
    LOCATED_IN,
    USED_AGENT,
    USED_IP,
    USER,
    VertexRef,
)
from graph.open import open_store
from graph.sqlite import SqliteStore
from graph.store import GraphInfo, GraphStore
from tests.conftest import GRAPH
from tests.integration.uvicorn_thread import serving

HOUR, DAY = 3600, 86_400
D = 1_699_920_000  # 2023-11-14T00:00:00Z, the scope day
NOW = D + DAY - 60
SCOPE = {"start": "2023-11-14T00:00:00Z", "end": "2023-11-15T00:00:00Z"}
A = "111122223333"
ACCT = VertexRef(ACCOUNT, A)
STEADY, NEWBIE = VertexRef(USER, "AIDASTEADY"), VertexRef(USER, "AIDANEWBIE")
HOME, AWAY = VertexRef(IP, "198.51.100.7"), VertexRef(IP, "203.0.113.50")
CLI, CURL = VertexRef(AGENT, "aws-cli/2.15"), VertexRef(AGENT, "curl/8.4")
GET = VertexRef(API, "s3.amazonaws.com:GetObject")
LIST = VertexRef(API, "s3.amazonaws.com:ListBuckets")
INST, NIC = VertexRef(INSTANCE, "i-0abc"), VertexRef(ENI, "eni-1")
PEER = VertexRef(IP, "192.0.2.9")
SPIKE_HOUR, FLOW_SPIKE_HOUR = 10, 5
TOKEN = "admin-token-0123456789"
CREDENTIALS = f"[admin]\napi_token = {TOKEN}\naccount_id = {A}\n"


def _call(
    buf: DeltaBuffer, who: VertexRef, api: VertexRef, ts: int, n: int, ip: VertexRef,
    ua: VertexRef,
) -> None:  # fmt: skip
    """Calls as the loader writes them: for the user and its account's rollup."""
    for ref in (who, ACCT):
        buf.edge(CALLED, ref, api, ts, (n, 0), qualifier=ip.key)
        buf.edge(USED_IP, ref, ip, ts, (n, 0))
        buf.edge(USED_AGENT, ref, ua, ts, (n, 0))
    buf.edge(BELONGS_TO, who, ACCT, ts, (n,))


def _places(buf: DeltaBuffer) -> None:
    for ip, country, asn in ((HOME, "US", 64500), (AWAY, "DE", 64501), (PEER, "US", 64500)):
        buf.vertex(ip, D - 90 * DAY, None, {"country": country, "asn": asn, "aso": f"org{asn}"})
        buf.edge(LOCATED_IN, ip, VertexRef(GEO, country), D - 90 * DAY, (1,))
        buf.vertex(VertexRef(ASO, f"AS{asn}"), D - 90 * DAY, None, {"organization": f"org{asn}"})
        buf.edge(ANNOUNCED_BY, ip, VertexRef(ASO, f"AS{asn}"), D - 90 * DAY, (1,))


def build(store: GraphStore) -> None:
    buf = DeltaBuffer()
    buf.vertex(ACCT, D - 44 * DAY, None, {})
    buf.vertex(STEADY, D - 44 * DAY, None, {"name": "steady", "account": A})
    buf.vertex(NEWBIE, D - 5 * DAY, None, {"name": "newbie", "account": A})
    _places(buf)
    for h in range(-44 * 24, 24):
        ts = D + h * HOUR + 60
        _call(buf, STEADY, GET, ts, 300 if h == SPIKE_HOUR else 3, HOME, CLI)
        if h >= -5 * 24:
            _call(buf, NEWBIE, GET, ts, 300 if h == SPIKE_HOUR else 3, HOME, CLI)
        buf.edge(FLOW, NIC, PEER, ts, (10_000 if h == FLOW_SPIKE_HOUR else 1000, 2000, 10, 20),
                 qualifier="6/443/51515/egress/ACCEPT")  # fmt: skip
    # 11:00: the familiar GetObject from a new address (a new edge), a new agent, a new API
    _call(buf, STEADY, GET, D + 11 * HOUR + 5, 3, AWAY, CURL)
    _call(buf, STEADY, LIST, D + 11 * HOUR + 6, 2, HOME, CLI)
    buf.vertex(INST, D - 44 * DAY, None, {"account": A})
    buf.vertex(NIC, D - 44 * DAY, None, {})
    buf.edge(HAS_INTERFACE, INST, NIC, D - 44 * DAY, (1,))
    store.write(buf.take(GRAPH, []))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("baselines") / "graph.db"
    store = SqliteStore(path)
    store.create_graph(GraphInfo(GRAPH, A, D - 90 * DAY))
    build(store)
    store.close()
    return path


@pytest.fixture(scope="module")
def api(db: Path) -> Iterator[httpx.Client]:
    app = create_app(
        lambda: open_store(f"sqlite://{db}"),
        authenticator=Authenticator(parse_credentials(CREDENTIALS)),
        clock=lambda: NOW,
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serving(app) as base, httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        yield c


def gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


PRINCIPAL = """
query($g: ID!, $id: ID!, $type: EntityType!, $scope: ScopeInput) {
  entity(graphArn: $g, type: $type, id: $id) {
    ... on Principal {
      apiCallVolume(scope: $scope) {
        totalSuccess
        buckets { start success failed expected lower upper failedExpected failedUpper }
        trainingNotice { historyDays requiredDays message }
      }
      newBehaviors(scope: $scope) {
        trainingNotice { historyDays requiredDays }
        apiCalls { method success newlyObserved newForAccount increasedVolume expected upper }
        userAgents { userAgent newlyObserved }
        geolocations { location newlyObserved countryNewlyObserved ipAddresses }
        asos { aso newlyObserved }
        increasedVolume { service method success expected upper excess increasedVolume }
      }
    }
  }
}
"""


def principal(api: httpx.Client, ref: VertexRef, type_: str = "AWS_USER") -> dict[str, Any]:
    data = gql(api, PRINCIPAL, g=GRAPH, id=ref.key, type=type_, scope=SCOPE)
    assert data["entity"] is not None
    return data["entity"]  # type: ignore[no-any-return]


def test_buckets_carry_bounds_and_the_spike_is_above_them(api: httpx.Client) -> None:
    v = principal(api, STEADY)["apiCallVolume"]
    buckets = v["buckets"]
    assert len(buckets) == 24 and v["totalSuccess"] == 23 * 3 + 300 + 3 + 2
    assert v["trainingNotice"] is None  # 44 days of history
    for i, b in enumerate(buckets):
        assert b["expected"] is not None, b
        assert 0 <= b["lower"] <= b["expected"] <= b["upper"], b
        assert b["failedExpected"] == 0 and b["failedUpper"] is not None
        # 3 calls every hour for 44 days: 3 expected, and a normal hour inside the band
        assert b["expected"] == pytest.approx(3, abs=0.5), b
        if i != SPIKE_HOUR:
            assert b["lower"] <= b["success"] <= b["upper"], b
    spike = buckets[SPIKE_HOUR]
    assert spike["start"] == "2023-11-14T10:00:00+00:00" and spike["success"] == 300
    assert spike["upper"] < 20 < spike["success"]


def test_increased_volume_lists_the_spiking_method_by_how_much(api: httpx.Client) -> None:
    nb = principal(api, STEADY)["newBehaviors"]
    assert nb["trainingNotice"] is None
    (inc,) = nb["increasedVolume"]
    observed = 23 * 3 + 300 + 3
    assert (inc["service"], inc["method"], inc["success"]) == ("s3.amazonaws.com", "GetObject",
                                                                observed)  # fmt: skip
    assert inc["increasedVolume"] is True
    assert inc["expected"] == pytest.approx(72, rel=0.1)  # 24 hours x 3 calls
    assert inc["expected"] < inc["upper"] < observed
    assert inc["excess"] == pytest.approx(observed - inc["upper"], abs=1e-3)
    calls = {c["method"]: c for c in nb["apiCalls"]}
    assert calls["GetObject"]["increasedVolume"] is True
    assert calls["GetObject"]["upper"] == inc["upper"]
    # ListBuckets is new, not an increase (never called before)
    assert calls["ListBuckets"]["increasedVolume"] is False


def test_known_api_from_a_new_address_is_not_a_new_api_call(api: httpx.Client) -> None:
    nb = principal(api, STEADY)["newBehaviors"]
    calls = {c["method"]: c for c in nb["apiCalls"]}
    # GetObject came from a new address (a new CALLED edge) but was called every hour before
    assert calls["GetObject"]["newlyObserved"] is False
    assert calls["GetObject"]["newForAccount"] is None
    assert calls["ListBuckets"]["newlyObserved"] is True
    assert calls["ListBuckets"]["newForAccount"] is True  # nobody in the account called it
    assert [c["method"] for c in nb["apiCalls"]] == ["ListBuckets", "GetObject"]  # new first
    assert {u["userAgent"]: u["newlyObserved"] for u in nb["userAgents"]} == {
        CLI.key: False, CURL.key: True,
    }  # fmt: skip
    geos = {g["location"]: g for g in nb["geolocations"]}
    assert (geos["US"]["newlyObserved"], geos["DE"]["newlyObserved"]) == (False, True)
    assert geos["DE"]["countryNewlyObserved"] is True and geos["DE"]["ipAddresses"] == [AWAY.key]
    assert {a["aso"]: a["newlyObserved"] for a in nb["asos"]} == {"AS64500": False,
                                                                  "AS64501": True}  # fmt: skip


def test_the_account_rolls_up_its_principals(api: httpx.Client) -> None:
    p = principal(api, ACCT, "AWS_ACCOUNT")
    calls = {c["method"]: c for c in p["newBehaviors"]["apiCalls"]}
    assert calls["ListBuckets"]["newlyObserved"] is True
    assert calls["GetObject"]["newlyObserved"] is False
    assert calls["ListBuckets"]["newForAccount"] is None  # the account itself
    buckets = p["apiCallVolume"]["buckets"]
    assert buckets[0]["expected"] is not None
    assert buckets[SPIKE_HOUR]["success"] == 600 > buckets[SPIKE_HOUR]["upper"]


def test_short_history_gets_a_training_notice_and_no_increased_volume(
    api: httpx.Client,
) -> None:
    p = principal(api, NEWBIE)
    notice = p["newBehaviors"]["trainingNotice"]
    assert notice is not None and notice["requiredDays"] == 14
    assert notice["historyDays"] == pytest.approx(5, abs=0.1)
    assert p["apiCallVolume"]["trainingNotice"]["message"].startswith("In training")
    assert p["newBehaviors"]["increasedVolume"] == []
    calls = {c["method"]: c for c in p["newBehaviors"]["apiCalls"]}
    assert calls["GetObject"]["increasedVolume"] is False
    # the bounds are still there, from the five days there are
    b = p["apiCallVolume"]["buckets"][0]
    assert b["lower"] <= b["expected"] <= b["upper"]


def test_vpc_flow_buckets_carry_bounds(api: httpx.Client) -> None:
    q = """query($g: ID!, $type: EntityType!, $id: ID!, $scope: ScopeInput) {
      entity(graphArn: $g, type: $type, id: $id) {
        ... on FlowActivity {
          vpcFlowVolume(scope: $scope) {
            trainingNotice { message }
            buckets { start bytesIn bytesOut expectedBytesIn lowerBytesIn upperBytesIn
                      expectedBytesOut lowerBytesOut upperBytesOut expected lower upper }
          }
        }
      }
    }"""

    def buckets(type_: str, id_: str) -> list[dict[str, Any]]:
        e = gql(api, q, g=GRAPH, type=type_, id=id_, scope=SCOPE)["entity"]
        assert e["vpcFlowVolume"]["trainingNotice"] is None
        return e["vpcFlowVolume"]["buckets"]  # type: ignore[no-any-return]

    instance = buckets("EC2_INSTANCE", INST.key)
    for i, b in enumerate(instance):
        assert b["lowerBytesIn"] <= b["expectedBytesIn"] <= b["upperBytesIn"], b
        assert b["lowerBytesOut"] <= b["expectedBytesOut"] <= b["upperBytesOut"], b
        assert b["expectedBytesOut"] == pytest.approx(2000, rel=0.05)
        assert b["lower"] <= b["expected"] <= b["upper"], b
        if i != FLOW_SPIKE_HOUR:
            assert b["expectedBytesIn"] == pytest.approx(1000, rel=0.05)
            assert b["lowerBytesIn"] <= b["bytesIn"] <= b["upperBytesIn"], b
            # all bytes: a series of its own, 1,000 in + 2,000 out every hour
            assert b["expected"] == pytest.approx(3000, rel=0.05)
            assert b["lower"] <= b["bytesIn"] + b["bytesOut"] <= b["upper"], b
    spike = instance[FLOW_SPIKE_HOUR]
    assert spike["bytesIn"] == 10_000 > spike["upperBytesIn"]
    assert spike["bytesIn"] + spike["bytesOut"] > spike["upper"]
    # the remote address sees the same traffic turned around
    peer = buckets("IP_ADDRESS", PEER.key)
    assert peer[FLOW_SPIKE_HOUR]["bytesOut"] == 10_000 > peer[FLOW_SPIKE_HOUR]["upperBytesOut"]
    assert peer[0]["expectedBytesIn"] == pytest.approx(2000, rel=0.05)


def test_address_api_call_buckets_carry_bounds(api: httpx.Client) -> None:
    q = """query($g: ID!, $scope: ScopeInput) {
      entity(graphArn: $g, type: IP_ADDRESS, id: "198.51.100.7") {
        ... on ApiActivity { apiCallVolume(scope: $scope) {
          buckets { success expected lower upper } trainingNotice { message } } }
      }
    }"""
    v = gql(api, q, g=GRAPH, scope=SCOPE)["entity"]["apiCallVolume"]
    assert v["trainingNotice"] is None
    first = v["buckets"][0]
    # STEADY and NEWBIE: 6 calls an hour lately, 3 before NEWBIE appeared
    assert first["success"] == 6 and first["lower"] <= first["expected"] <= first["upper"]
    assert v["buckets"][SPIKE_HOUR]["success"] == 600 > v["buckets"][SPIKE_HOUR]["upper"]


class Counting:
    """A store that counts its read calls."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner, self.uri, self.calls = inner, inner.uri, Counter[str]()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.inner, name)


def test_baselines_are_cached_per_entity_and_scope(db: Path) -> None:
    """A second profile of the same principal and scope is answered from the BaselineCache:
    only the vertex is read again (its observed span is part of the key)."""
    inner = SqliteStore(db)
    try:
        store = cast(GraphStore, Counting(inner))
        cache = BaselineCache()
        scope = Scope(D, D + DAY)
        refs = [STEADY, NEWBIE, INST, PEER, HOME]
        first = activity_baselines.api_call_baselines(
            store=store, graph=GRAPH, refs=refs, scope=scope, cache=cache
        )
        flows_first = flows.vpc_flow_baselines(store=store, graph=GRAPH, refs=refs, scope=scope,
                                               cache=cache)  # fmt: skip
        # an instance is a principal too; addresses have both panels
        assert set(first) == set(refs) and set(flows_first) == {INST, PEER, HOME}
        cold = sum(store.calls.values())  # type: ignore[attr-defined]
        store.calls.clear()  # type: ignore[attr-defined]
        again = activity_baselines.api_call_baselines(
            store=store, graph=GRAPH, refs=refs, scope=scope, cache=cache
        )
        flows_again = flows.vpc_flow_baselines(store=store, graph=GRAPH, refs=refs, scope=scope,
                                               cache=cache)  # fmt: skip
        warm = store.calls  # type: ignore[attr-defined]
    finally:
        inner.close()
    assert again == first and flows_again == flows_first
    assert set(warm) == {"vertices"} and sum(warm.values()) < cold
    # every result of the second round came from the cache: 5 API call and 3 flow baselines
    assert cache.stats.hits == 8


def test_new_behavior_service_known_api_from_new_address(tmp_path: Path) -> None:
    """The service directly (no server): the regression of a familiar API first called from a
    new source IP, which has a CALLED edge first observed inside the scope."""
    store = SqliteStore(tmp_path / "g.db")
    try:
        store.create_graph(GraphInfo(GRAPH, A, D - 90 * DAY))
        buf = DeltaBuffer()
        buf.vertex(STEADY, D - 30 * DAY, None, {"account": A})
        _places(buf)
        _call(buf, STEADY, GET, D - 20 * DAY, 4, HOME, CLI)
        _call(buf, STEADY, GET, D + 3 * HOUR, 2, AWAY, CLI)  # new edge: (GET, AWAY)
        store.write(buf.take(GRAPH, []))
        found = new_behaviors(
            store=CachedReads(store), graph=GRAPH, refs=[STEADY], scope=Scope(D, D + DAY)
        )[STEADY]
    finally:
        store.close()
    (call,) = found.api_calls
    assert (call.key, call.calls.success, call.newly_observed) == (GET.key, 2, False)
    assert [(g.key, g.newly_observed) for g in found.geolocations] == [("DE", True)]
    assert found.training is None


BUCKETS_ONLY = """
query($g: ID!, $id: ID!, $scope: ScopeInput) {
  entity(graphArn: $g, type: AWS_USER, id: $id) {
    ... on Principal {
      apiCallVolume(scope: $scope) { buckets { start expected lower upper failedUpper } }
    }
  }
}
"""


def test_a_profile_asking_for_both_baselines_fits_a_principal_once(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hourly bounds and increased volume in one response: the buckets' bounds come from the
    per-method baseline's fit, the same values as when the buckets are asked for alone."""
    hourly = activity_baselines.api_call_hourly_baselines
    fitted: Counter[VertexRef] = Counter()

    def counting(**kwargs: Any) -> Any:
        fitted.update(kwargs["refs"])
        return hourly(**kwargs)

    monkeypatch.setattr(activity_baselines, "api_call_hourly_baselines", counting)
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def fresh_app() -> Any:  # its own BaselineCache: nothing cached by earlier tests
        return create_app(
            lambda: open_store(f"sqlite://{db}"),
            authenticator=Authenticator(parse_credentials(CREDENTIALS)),
            clock=lambda: NOW,
        )

    with serving(fresh_app()) as base, httpx.Client(base_url=base, headers=headers) as c:
        both = gql(c, PRINCIPAL, g=GRAPH, id=STEADY.key, type="AWS_USER", scope=SCOPE)["entity"]
    assert fitted[STEADY] == 0 and both["newBehaviors"]["increasedVolume"]
    with serving(fresh_app()) as base, httpx.Client(base_url=base, headers=headers) as c:
        alone = gql(c, BUCKETS_ONLY, g=GRAPH, id=STEADY.key, scope=SCOPE)["entity"]
    assert fitted[STEADY] == 1
    keys = ("start", "expected", "lower", "upper", "failedUpper")
    assert [{k: b[k] for k in keys} for b in both["apiCallVolume"]["buckets"]] == [
        {k: b[k] for k in keys} for b in alone["apiCallVolume"]["buckets"]
    ]
