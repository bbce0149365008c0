"""Investigations end to end: real boto3 `detective` client → uvicorn → the baselines engine →
a real SQLite store holding hand-built activity (tests.unit.test_investigation.build)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from baselines.investigation_engine import investigation_report
from graph.sqlite import SqliteStore
from tests.integration.membership_support import client, refusal, server, sqlite_uri
from tests.unit.test_investigation import ROLE_ARN, SCOPE, USER_ARN, build


@pytest.fixture(autouse=True)
def shipped_threat_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The expectations below are those of the shipped list, whatever the environment says."""
    monkeypatch.delenv("GUMSHOE_THREAT_LIST", raising=False)


def test_start_get_list_indicators_and_archive(tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    with server(sqlite_uri(db)) as base:
        admin = client(base, "admin")
        arn = admin.create_graph()["GraphArn"]
        store = SqliteStore(db)
        try:
            build(store, arn)
        finally:
            store.close()
        start = datetime.fromtimestamp(SCOPE, UTC)
        end = start + timedelta(days=1)
        inv_id = admin.start_investigation(
            GraphArn=arn, EntityArn=ROLE_ARN, ScopeStartTime=start, ScopeEndTime=end
        )["InvestigationId"]
        assert len(inv_id) == 21 and inv_id.isdigit()

        got = admin.get_investigation(GraphArn=arn, InvestigationId=inv_id)
        assert (got["Status"], got["State"], got["Severity"]) == (
            "SUCCESSFUL",
            "ACTIVE",
            "CRITICAL",
        )
        assert (got["EntityType"], got["ScopeStartTime"]) == ("IAM_ROLE", start)

        found = admin.list_indicators(GraphArn=arn, InvestigationId=inv_id)["Indicators"]
        assert {i["IndicatorType"] for i in found} == {
            "TTP_OBSERVED", "IMPOSSIBLE_TRAVEL", "FLAGGED_IP_ADDRESS", "NEW_GEOLOCATION",
            "NEW_ASO", "NEW_USER_AGENT", "RELATED_FINDING", "RELATED_FINDING_GROUP",
        }  # fmt: skip
        trips = admin.list_indicators(
            GraphArn=arn, InvestigationId=inv_id, IndicatorType="IMPOSSIBLE_TRAVEL"
        )["Indicators"]
        assert trips[0]["IndicatorDetail"]["ImpossibleTravelDetail"]["HourlyTimeDelta"] == 1
        # pagination walks every indicator once
        seen: list[Any] = []
        token: str | None = None
        while True:
            kwargs: dict[str, str] = {"NextToken": token} if token else {}
            page = admin.list_indicators(
                GraphArn=arn, InvestigationId=inv_id, MaxResults=3, **kwargs
            )
            seen += page["Indicators"]
            token = page.get("NextToken")
            if not token:
                break
        assert seen == found and len(found) > 3

        quiet = admin.start_investigation(
            GraphArn=arn, EntityArn=USER_ARN, ScopeStartTime=start, ScopeEndTime=end
        )["InvestigationId"]
        listed = admin.list_investigations(
            GraphArn=arn, SortCriteria={"Field": "SEVERITY", "SortOrder": "DESC"}
        )["InvestigationDetails"]
        assert [(d["InvestigationId"], d["Severity"]) for d in listed] == [
            (inv_id, "CRITICAL"),
            (quiet, "INFORMATIONAL"),
        ]

        admin.update_investigation_state(GraphArn=arn, InvestigationId=inv_id, State="ARCHIVED")
        archived = admin.list_investigations(
            GraphArn=arn, FilterCriteria={"State": {"Value": "ARCHIVED"}}
        )["InvestigationDetails"]
        assert [d["InvestigationId"] for d in archived] == [inv_id]

        code, _, _ = refusal(
            lambda: admin.start_investigation(
                GraphArn=arn,
                EntityArn="arn:aws:iam::111122223333:role/unknown",
                ScopeStartTime=start,
                ScopeEndTime=end,
            )
        )
        assert code == "ValidationException"  # an entity the graph has never seen

        store = SqliteStore(db)
        try:
            report = investigation_report(store=store, graph=arn, investigation_id=inv_id)
        finally:
            store.close()
        assert report["State"] == "ARCHIVED" and report["Indicators"] == json.loads(
            json.dumps(found)
        )
        assert report["IndicatorCounts"]["RELATED_FINDING"] == 2
