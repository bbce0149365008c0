"""The investigation engine: results persisted in the graph's properties, FAILED runs kept,
states updated, the JSON report — on a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.services.membership_errors import InvalidRequest
from baselines.investigation_engine import BaselineInvestigator, investigation_report
from graph.sqlite import SqliteStore
from graph.store import GraphInfo
from tests.conftest import GRAPH
from tests.unit.test_investigation import ACCT, ROLE_ARN, SCOPE, USER_ARN, build

NOW = SCOPE + 30 * 86_400


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqliteStore]:
    monkeypatch.delenv("GUMSHOE_THREAT_LIST", raising=False)
    s = SqliteStore(tmp_path / "graph.db")
    s.create_graph(GraphInfo(GRAPH, ACCT.key, 1_700_000_000, props={"tags": {"team": "sec"}}))
    build(s)
    yield s
    s.close()


def test_results_survive_a_new_engine_and_keep_other_props(store: SqliteStore) -> None:
    inv = BaselineInvestigator().start(store, GRAPH, ROLE_ARN, SCOPE, SCOPE + 86_400, NOW)
    assert (inv.status, inv.severity, inv.state, inv.entity_type) == (
        "SUCCESSFUL", "CRITICAL", "ACTIVE", "IAM_ROLE"
    )  # fmt: skip
    fresh = BaselineInvestigator()  # nothing held in memory
    assert fresh.investigations(store, GRAPH) == [inv]
    kinds = {i.indicator_type for i in fresh.indicators(store, GRAPH, inv.investigation_id)}
    assert {"RELATED_FINDING", "IMPOSSIBLE_TRAVEL", "FLAGGED_IP_ADDRESS"} <= kinds
    (info,) = store.list_graphs()
    assert info.props["tags"] == {"team": "sec"}  # membership's properties are untouched

    fresh.set_state(store, GRAPH, inv.investigation_id, "ARCHIVED")
    assert [i.state for i in fresh.investigations(store, GRAPH)] == ["ARCHIVED"]
    report = investigation_report(store=store, graph=GRAPH, investigation_id=inv.investigation_id)
    assert report["State"] == "ARCHIVED" and report["EntityArn"] == ROLE_ARN
    assert sum(report["IndicatorCounts"].values()) == len(report["Indicators"])
    json.dumps(report)  # downloadable as is


def test_a_broken_threat_list_fails_the_run_and_keeps_it(
    store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "list.txt"
    bad.write_text("10.0.0.0/8\nnot-an-ip\n")
    monkeypatch.setenv("GUMSHOE_THREAT_LIST", str(bad))
    engine = BaselineInvestigator()
    inv = engine.start(store, GRAPH, USER_ARN, SCOPE, SCOPE + 86_400, NOW)
    assert (inv.status, inv.severity) == ("FAILED", "INFORMATIONAL")
    assert engine.indicators(store, GRAPH, inv.investigation_id) == []
    report = investigation_report(store=store, graph=GRAPH, investigation_id=inv.investigation_id)
    assert "entry 2" in report["Error"]


def test_unknown_entities_are_refused_and_not_kept(store: SqliteStore) -> None:
    engine = BaselineInvestigator()
    with pytest.raises(InvalidRequest, match="not been observed"):
        engine.start(store, GRAPH, "arn:aws:iam::111122223333:user/ghost", SCOPE, SCOPE + 3600, NOW)
    assert engine.investigations(store, GRAPH) == []
