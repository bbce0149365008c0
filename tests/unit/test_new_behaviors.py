"""Newly observed behavior of principals and accounts, read from a real SQLite store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baselines.new_behaviors import new_behaviors
from graph.batch import DeltaBuffer
from graph.model import (
    ACCOUNT,
    AGENT,
    ANNOUNCED_BY,
    API,
    ASO,
    CALLED,
    GEO,
    IP,
    LOCATED_IN,
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
ALICE = VertexRef(USER, "AIDAALICE")
BOB = VertexRef(USER, "AIDABOB")
CAROL = VertexRef(USER, "AIDACAROL")  # first observed three days before the scope

GET = VertexRef(API, "s3.amazonaws.com:GetObject")
LIST = VertexRef(API, "s3.amazonaws.com:ListBuckets")
DESCRIBE = VertexRef(API, "ec2.amazonaws.com:DescribeInstances")
CREATE_KEY = VertexRef(API, "iam.amazonaws.com:CreateAccessKey")
CLI = VertexRef(AGENT, "aws-cli/2.13.0")
BOTO = VertexRef(AGENT, "Boto3/1.28.0")
CURL = VertexRef(AGENT, "curl/8.5.0")

# address -> (geolocation, ASO, organization)
PLACES = {
    "73.1.1.1": ("US", "AS7922", "Comcast"),  # alice at home, in the baseline
    "73.1.1.2": ("US", "AS7922", "Comcast"),  # a new address of a familiar place and network
    "45.33.1.1": ("US", "AS63949", "Akamai Connected Cloud"),  # new network, familiar country
    "52.95.1.1": ("US/Seattle", "AS16509", "Amazon.com"),  # new city, familiar country
    "102.89.1.1": ("NG", "AS29465", "MTN Nigeria"),  # new country and network
    "79.192.1.1": ("DE", "AS3320", "Deutsche Telekom"),  # bob's, in the baseline
}


def ip(address: str) -> VertexRef:
    return VertexRef(IP, address)


def _use(buf: DeltaBuffer, who: VertexRef, at: int, api: VertexRef, agent: VertexRef, addr: str,
         ok: int = 1, bad: int = 0) -> None:  # fmt: skip
    """One principal's calls, written for the principal and its account (the loader's rollup)."""
    for src in (who, ACCT):
        buf.edge(CALLED, src, api, at, (ok, bad), addr)
        buf.edge(USED_AGENT, src, agent, at, (ok, bad))
        buf.edge(USED_IP, src, ip(addr), at, (ok, bad))


def _build(store: GraphStore) -> None:
    buf = DeltaBuffer()
    for who in (ALICE, BOB, CAROL):
        buf.vertex(who, SCOPE, None, {"account": ACCT.key})
    for addr, (geo, aso, org) in PLACES.items():
        country, _, city = geo.partition("/")
        buf.vertex(VertexRef(GEO, geo), SCOPE, None, {"country": country, "city": city or None})
        buf.vertex(VertexRef(ASO, aso), SCOPE, None, {"asn": int(aso[2:]), "organization": org})
        buf.edge(LOCATED_IN, ip(addr), VertexRef(GEO, geo), SCOPE - 90 * DAY, (1,))
        buf.edge(ANNOUNCED_BY, ip(addr), VertexRef(ASO, aso), SCOPE - 90 * DAY, (1,))
    # 60 days ago, before the baseline window: alice listed her buckets (and not since)
    _use(buf, ALICE, SCOPE - 60 * DAY, LIST, CLI, "73.1.1.1")
    for day in range(1, 40, 3):  # the baseline window
        _use(buf, ALICE, SCOPE - day * DAY + 10 * H, GET, CLI, "73.1.1.1", ok=5)
        _use(buf, BOB, SCOPE - day * DAY + 11 * H, DESCRIBE, BOTO, "79.192.1.1", ok=2)
    _use(buf, CAROL, SCOPE - 3 * DAY, GET, CLI, "73.1.1.1")
    # the scope
    _use(buf, ALICE, SCOPE + 9 * H, GET, CLI, "102.89.1.1", ok=7, bad=1)  # familiar API, new IP
    _use(buf, ALICE, SCOPE + 9 * H, CREATE_KEY, CURL, "102.89.1.1", ok=1)
    _use(buf, ALICE, SCOPE + 10 * H, DESCRIBE, BOTO, "45.33.1.1", ok=3)
    _use(buf, ALICE, SCOPE + 11 * H, LIST, CLI, "73.1.1.2", ok=2)
    _use(buf, ALICE, SCOPE + 12 * H, GET, CLI, "52.95.1.1", ok=4)
    _use(buf, CAROL, SCOPE + 2 * H, LIST, CLI, "73.1.1.1")
    store.write(buf.take(GRAPH, []))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    s = SqliteStore(Path(tmp_path_factory.mktemp("behaviors")) / "graph.db")
    s.create_graph(GraphInfo(GRAPH, ACCT.key, 1_700_000_000))
    _build(s)
    yield s
    s.close()


def _scope(store: GraphStore, who: VertexRef, **kwargs: Any) -> Any:
    return new_behaviors(
        store=store, graph=GRAPH, principal=who, start=SCOPE, end=SCOPE + DAY, **kwargs
    )


def keys(items: Any) -> set[str]:
    return {b.key for b in items}


def test_new_api_calls_and_user_agents(store: SqliteStore) -> None:
    result = _scope(store, ALICE)
    # GetObject from a new address is a new CALLED edge, but not a new API for alice
    assert keys(result.api_calls) == {CREATE_KEY.key, DESCRIBE.key, LIST.key}
    assert keys(result.user_agents) == {BOTO.key, CURL.key}
    assert result.training is None and result.baseline_start == SCOPE - 45 * DAY


def test_an_item_seen_before_the_baseline_window_is_new_again(store: SqliteStore) -> None:
    listed = next(b for b in _scope(store, ALICE).api_calls if b.key == LIST.key)
    assert listed.first_observed == SCOPE - 60 * DAY  # over all its edges, not the scope's
    assert listed.last_observed == SCOPE + 11 * H
    assert (listed.success, listed.failed) == (2, 0)
    assert listed.name == LIST.key


def test_new_geolocations_and_asos_come_from_the_addresses(store: SqliteStore) -> None:
    result = _scope(store, ALICE)
    geos = {b.key: b for b in result.geolocations}
    assert set(geos) == {"NG", "US/Seattle"}
    assert (geos["NG"].country, geos["NG"].city, geos["NG"].country_new) == ("NG", None, True)
    seattle = geos["US/Seattle"]
    assert (seattle.country, seattle.city, seattle.country_new) == ("US", "Seattle", False)
    assert geos["NG"].addresses == ("102.89.1.1",)
    assert (geos["NG"].success, geos["NG"].failed) == (8, 1)
    asos = {b.key: b for b in result.asos}
    assert set(asos) == {"AS29465", "AS63949", "AS16509"}
    assert asos["AS63949"].name == "Akamai Connected Cloud"
    assert result.geolocations[0].key == "NG"  # most calls first


def test_new_for_the_account_or_only_for_the_principal(store: SqliteStore) -> None:
    result = _scope(store, ALICE)
    flags = {(b.kind, b.key): b.new_for_account for b in result.all}
    assert flags[("api_call", CREATE_KEY.key)] is True
    assert flags[("api_call", DESCRIBE.key)] is False  # bob calls it
    assert flags[("user_agent", BOTO.key)] is False
    assert flags[("user_agent", CURL.key)] is True
    assert flags[("geolocation", "NG")] is True
    assert flags[("aso", "AS29465")] is True


def test_an_account_aggregates_its_principals(store: SqliteStore) -> None:
    result = _scope(store, ACCT)
    assert keys(result.api_calls) == {CREATE_KEY.key, LIST.key}  # bob's DescribeInstances is known
    assert keys(result.user_agents) == {CURL.key}
    assert keys(result.geolocations) == {"NG", "US/Seattle"}
    assert all(b.new_for_account is None for b in result.all)


def test_training_notice_and_unknown_principals(store: SqliteStore) -> None:
    carol = _scope(store, CAROL)
    assert carol.training is not None and carol.training.history_days == pytest.approx(3.0)
    assert keys(carol.api_calls) == {LIST.key}  # listed with the notice: a fact, provisional
    ghost = _scope(store, VertexRef(USER, "AIDAGHOST"))
    assert ghost.all == () and ghost.training is not None
    assert "never observed" in ghost.training.message


def test_a_bounded_number_of_store_reads(store: SqliteStore) -> None:
    calls: Counter[str] = Counter()

    class Counting:
        uri = store.uri

        def __getattr__(self, name: str) -> Any:
            calls[name] += 1
            return getattr(store, name)

    _scope(Counting(), ALICE)
    # the fullest path: scope, baseline check and first use for APIs and agents (6), addresses
    # in the scope and the baseline (2), their places (2), the account's APIs, agents and
    # addresses (3) and their places (2); the principal and the ASO names
    assert calls == Counter({"neighbours": 15, "vertices": 2})


def test_bad_scope_is_rejected(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="not on the hour"):
        new_behaviors(store=store, graph=GRAPH, principal=ALICE, start=SCOPE + 5, end=SCOPE + DAY)
