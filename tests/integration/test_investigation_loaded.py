"""Investigations over data loaded by the real Loader: CloudTrail plus a GuardDuty finding on the
same role session, and the public invictus-ir CloudTrail dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baselines.investigation import find_entity, run_investigation
from tests.integration.helpers import DATASETS, delivery, event, load, write
from tests.unit.test_guardduty import finding

ROLE_ARN = "arn:aws:iam::111122223333:role/ops/admin"
DAY_START = 1_714_521_600  # 2024-05-01 00:00 UTC
IDENTITY = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLE000000001:alice",
    "arn": "arn:aws:sts::111122223333:assumed-role/admin/alice",
    "accountId": "111122223333",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLE000000001",
            "arn": ROLE_ARN,
            "userName": "admin",
        }
    },
}


@pytest.fixture(autouse=True)
def shipped_threat_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The expectations below are those of the shipped list, whatever the environment says."""
    monkeypatch.delenv("GUMSHOE_THREAT_LIST", raising=False)


def kinds(result: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for i in result.indicators:
        out.setdefault(i.indicator_type, []).append(next(iter(i.detail.values())))
    return out


def test_a_guardduty_finding_on_a_session_is_an_indicator_of_its_role(tmp_path: Path) -> None:
    # event()'s default source address 198.51.100.7 is on the shipped (documentation) list
    trail = write(
        tmp_path / "ct.json",
        delivery([event("ListBuckets", "2024-05-01T10:00:00Z", userIdentity=IDENTITY)]),
    )
    key = {"principalId": "AROAEXAMPLE000000001:alice", "userName": "admin",
           "userType": "AssumedRole"}  # fmt: skip
    gd = tmp_path / "gd.jsonl"
    gd.write_text(json.dumps(finding(resource={"accessKeyDetails": key})) + "\n")
    report, store = load(tmp_path / "g.db", [trail, gd])
    try:
        graph = report.graph or ""
        role = find_entity(store, graph, ROLE_ARN)
        assert role is not None
        result = run_investigation(
            store=store, graph=graph, entity=role, start=DAY_START, end=DAY_START + 86_400
        )
    finally:
        store.close()
    found = kinds(result)
    assert [(d["Type"], d["Arn"].endswith("/f1")) for d in found["RELATED_FINDING"]] == [
        ("Recon:IAMUser/UserPermissions", True)
    ]
    assert found["TTP_OBSERVED"][0]["Tactic"] == "Discovery"
    assert found["FLAGGED_IP_ADDRESS"] == [
        {"IpAddress": "198.51.100.7", "Reason": "AWS_THREAT_INTELLIGENCE"}
    ]
    assert [d["UserAgent"] for d in found["NEW_USER_AGENT"]] == ["aws-cli/2.13.0 Python/3.11.4"]
    assert result.sessions == 1 and result.notes  # a day of history: still in training
    # a MEDIUM finding (5.0) with a flagged address: HIGH, not CRITICAL (the finding is not HIGH)
    assert result.severity == "HIGH"


def test_the_invictus_dataset_investigates_without_errors(tmp_path: Path) -> None:
    report, store = load(tmp_path / "g.db", [DATASETS / "invictus-ir-aws_dataset"])
    try:
        graph = report.graph or ""
        user = find_entity(store, graph, "arn:aws:iam::123837392027:user/bert-jan")
        assert user is not None
        start = 1_688_986_800  # 2023-07-10 11:00 UTC, the hour before the first event
        result = run_investigation(store=store, graph=graph, entity=user, start=start,
                                   end=start + 3 * 3600)  # fmt: skip
    finally:
        store.close()
    found = kinds(result)
    assert found["NEW_USER_AGENT"]  # everything is new to a user first seen in the scope
    assert "IMPOSSIBLE_TRAVEL" not in found  # its addresses have no known country
    assert result.severity in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
