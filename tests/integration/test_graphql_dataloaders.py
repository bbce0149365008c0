"""DataLoaders: a profile makes the same number of store round trips for 1 row as for many.

A counting wrapper around a real SqliteStore counts every store call the server makes while
answering one request (calls from the request's context only: background jobs of the app do not
count); the graph behind it holds either one of everything (one API, one address, one user
agent, one session, one finding...) or many of each.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import Authenticator
from graph.batch import DeltaBuffer
from graph.model import (
    ACCOUNT,
    AGENT,
    ANNOUNCED_BY,
    API,
    ASO,
    ASSUMED_ROLE,
    BELONGS_TO,
    CALLED,
    FINDING,
    FINDING_GROUP,
    GEO,
    IN_GROUP,
    INVOLVES,
    IP,
    LOCATED_IN,
    ROLE,
    SESSION,
    STARTED_SESSION,
    USED_AGENT,
    USED_IP,
    USER,
    VertexRef,
)
from graph.sqlite import SqliteStore
from graph.store import GraphInfo
from tests.conftest import GRAPH
from tests.integration.uvicorn_thread import serving

DAY = 86_400
D = 1_699_920_000  # 2023-11-14T00:00:00Z
READS = ("vertices", "search", "neighbours", "series", "list_graphs")
# set while the app handles an HTTP request; worker threads inherit it (anyio copies contexts)
IN_REQUEST: ContextVar[bool] = ContextVar("in_request", default=False)


def tagged(app: Any) -> Any:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        token = IN_REQUEST.set(scope["type"] == "http")
        try:
            await app(scope, receive, send)
        finally:
            IN_REQUEST.reset(token)

    return asgi


class CountingStore:
    """Delegates to a real store and counts the calls of each read method."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.uri = inner.uri
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in READS:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            if IN_REQUEST.get():
                with self._lock:
                    self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


def build(path: Path, n: int) -> None:
    """A role and a user with n of everything: APIs, addresses (each in its own country and
    AS), user agents, sessions, findings and finding groups."""
    store = SqliteStore(path)
    store.create_graph(GraphInfo(GRAPH, "111122223333", D))
    buf = DeltaBuffer()
    acct = VertexRef(ACCOUNT, "111122223333")
    role = VertexRef(ROLE, "AROAROLE")
    user = VertexRef(USER, "AIDAUSER")
    buf.vertex(user, D - 60 * DAY, None, {"name": "user"})
    buf.vertex(role, D - 60 * DAY, None, {"name": "role"})
    for i in range(n):
        session = VertexRef(SESSION, f"AROAROLE:s{i:03}")
        api = VertexRef(API, f"svc{i % 7}.amazonaws.com:Call{i:03}")
        ip = VertexRef(IP, f"198.51.{i // 250}.{i % 250 + 1}")
        ua = VertexRef(AGENT, f"agent/{i}")
        when = D + (i % 24) * 3600 + 1 if i % 2 == 0 else D - (i % 40 + 1) * DAY  # scope, baseline
        for who in (session, role, user, acct):
            buf.edge(CALLED, who, api, when, (i + 1, i % 3), qualifier=ip.key)
            buf.edge(USED_IP, who, ip, when, (i + 1, i % 3))
            buf.edge(USED_AGENT, who, ua, when, (i + 1, i % 3))
        buf.edge(ASSUMED_ROLE, session, role, when, (1,))
        buf.edge(BELONGS_TO, role, acct, when, (1,))
        buf.edge(STARTED_SESSION, user, session, when, (1,), qualifier="AssumeRole")
        buf.vertex(ip, when, None, {"country": f"C{i:03}", "asn": 64500 + i, "aso": f"org {i}"})
        buf.edge(LOCATED_IN, ip, VertexRef(GEO, f"C{i:03}"), when, (1,))
        aso = VertexRef(ASO, f"AS{64500 + i}")
        buf.vertex(aso, when, None, {"asn": 64500 + i, "organization": f"org {i}"})
        buf.edge(ANNOUNCED_BY, ip, aso, when, (1,))
        finding = VertexRef(FINDING, f"f{i:03}")
        buf.vertex(finding, D + 3600, D + 7200, {"severity": 5.0})
        for who in (role, user, session, ip):
            buf.edge(INVOLVES, finding, who, D + 7200, (1,), qualifier="actor")
        buf.vertex(VertexRef(FINDING_GROUP, f"g{i:03}"), D + 3600, D + 7200, {"status": "ACTIVE"})
        buf.edge(IN_GROUP, finding, VertexRef(FINDING_GROUP, f"g{i:03}"), D + 7200, (1,))
    store.write(buf.take(GRAPH, []))
    store.close()


PANELS = """
  id type firstObserved
  involvedFindings(scope: $scope) { id severity involvedEntities { role entity { id } } }
  findingGroups(scope: $scope) { id findings { id } }
  ... on Principal {
    apiCallVolume(scope: $scope) {
      totalSuccess buckets { start success expected lower upper } trainingNotice { message }
      byMethod { method sourceIps { ipAddress } }
      bySourceIp { ipAddress }
      byCaller { callerId caller { id firstObserved } }
    }
    newBehaviors(scope: $scope) {
      apiCalls { method newlyObserved } userAgents { userAgent newlyObserved }
      geolocations { location newlyObserved } asos { aso organization newlyObserved }
      increasedVolume { method expected upper } trainingNotice { message }
    }
    resourceInteraction(scope: $scope) {
      sessions { entityId entity { id } } assumedBy { entityId entity { id } }
      sessionsStarted { entity { id } } rolesAssumed { entity { id } }
    }
  }
"""
PROFILE = (
    "query($g: ID!, $type: EntityType!, $id: ID!, $scope: ScopeInput) {"
    " entity(graphArn: $g, type: $type, id: $id) {" + PANELS + "} }"
)
SEARCH = (
    "query($g: ID!, $scope: ScopeInput) {"
    ' search(graphArn: $g, type: AWS_ROLE_SESSION, query: "AROAROLE:*", first: 50) {'
    " nodes {" + PANELS + "} } }"
)
NEW_BEHAVIORS = PANELS[PANELS.index("    newBehaviors") : PANELS.index("    resourceInteraction")]
SEARCH_WITHOUT_NEW = SEARCH.replace(NEW_BEHAVIORS, "")
# baselines.new_behaviors judges one principal at a time, with at most 17 store calls, and
# baselines.volume.api_call_baseline (increased volume) reads 2 per principal
NEW_BEHAVIOR_CALLS = 17 + 2
SCOPE = {"start": "2023-11-14T00:00:00Z", "end": "2023-11-15T00:00:00Z"}


@pytest.fixture
def counted(
    tmp_path: Path,
) -> Iterator[Callable[[int, str, dict[str, Any]], tuple[Counter[str], Any]]]:
    """Serve a graph with n of everything; run one query; return (store calls, data)."""
    servers: list[Any] = []

    def run(n: int, query: str, variables: dict[str, Any]) -> tuple[Counter[str], Any]:
        path = tmp_path / f"n{n}.db"
        if not path.exists():
            build(path, n)
        store = CountingStore(SqliteStore(path))
        app = create_app(lambda: store, authenticator=Authenticator(None))  # type: ignore[arg-type, return-value]
        server = serving(tagged(app))
        base = server.__enter__()
        servers.append(server)
        store.calls.clear()
        body = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables},
                          timeout=60).json()  # fmt: skip
        assert "errors" not in body, body["errors"]
        return Counter(store.calls), body["data"]

    yield run
    for server in servers:
        server.__exit__(None, None, None)


@pytest.mark.parametrize(("label", "key"), [("AWS_ROLE", "AROAROLE"), ("AWS_USER", "AIDAUSER")])
def test_a_profile_costs_the_same_round_trips_for_1_or_many_rows(
    counted: Callable[[int, str, dict[str, Any]], tuple[Counter[str], Any]], label: str, key: str
) -> None:
    variables = {"g": GRAPH, "type": label, "id": key, "scope": SCOPE}
    one, small = counted(1, PROFILE, variables)
    many, big = counted(60, PROFILE, variables)
    # the big graph really has many rows in every panel...
    assert len(small["entity"]["involvedFindings"]) == 1
    assert len(big["entity"]["involvedFindings"]) == 60
    assert len(big["entity"]["newBehaviors"]["asos"]) == 30  # the in-scope half
    assert len(big["entity"]["findingGroups"]) == 60
    # ...and costs exactly as many store calls as the small one
    assert many == one, (one, many)
    # baselines included: every bucket has its bounds
    buckets = big["entity"]["apiCallVolume"]["buckets"]
    assert all(b["lower"] <= b["expected"] <= b["upper"] for b in buckets)
    assert 10 <= sum(one.values()) <= 40


def test_a_search_page_costs_the_same_round_trips_for_1_or_many_results(
    counted: Callable[[int, str, dict[str, Any]], tuple[Counter[str], Any]],
) -> None:
    variables = {"g": GRAPH, "scope": SCOPE}
    assert NEW_BEHAVIORS.strip().startswith("newBehaviors") and "newBehaviors" not in (
        SEARCH_WITHOUT_NEW
    )
    one, small = counted(1, SEARCH_WITHOUT_NEW, variables)
    many, big = counted(40, SEARCH_WITHOUT_NEW, variables)
    assert len(small["search"]["nodes"]) == 1 and len(big["search"]["nodes"]) == 40
    # one read more for many: a page of one principal is read like a profile, whose volume
    # panel reads its hours per API along with its callers' totals (`series_by_other`); a page
    # of many reads theirs in one `series` call of its own
    assert many == one + Counter(series=1), (one, many)
    # hourly baselines of a whole page come from one batched fit: sessions seen before the
    # scope have bounds, those first seen inside it have no history to compare with
    firsts = [n["apiCallVolume"]["buckets"][0] for n in big["search"]["nodes"]]
    with_history = [b for b in firsts if b["expected"] is not None]
    assert len(with_history) == 20 and all(b["upper"] is None for b in firsts if b not in
                                           with_history)  # fmt: skip
    assert all(b["lower"] <= b["expected"] <= b["upper"] for b in with_history)
    # the new-behavior panel (baselines.new_behaviors, and baselines.volume for increased
    # volume) costs a bounded number per principal
    one, small = counted(1, SEARCH, variables)
    many, big = counted(40, SEARCH, variables)
    assert len(big["search"]["nodes"]) == 40
    extra = sum(many.values()) - sum(one.values())
    assert 0 < extra <= NEW_BEHAVIOR_CALLS * 39, (one, many)
