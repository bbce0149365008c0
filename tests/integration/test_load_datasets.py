"""Loading all of tests/data/datasets: what fails, what is skipped, and what the graph holds."""

from __future__ import annotations

import calendar
import gzip
import json
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graph.model import ACCOUNT, API, CALLED, SERVICE, SESSION, STARTED_SESSION, USER, VertexRef
from graph.sqlite import SqliteStore
from graph.store import Direction
from loaders.graphs import graph_arn
from loaders.report import LoadReport
from loaders.sources import iter_objects
from tests.integration.helpers import DATASETS, GUMSHOE, export_text, load

PANTHER = "panther-labs-panther-analysis/aws_cloudtrail_rule_tests.jsonl"
UNRECOGNIZED = "unrecognized content: not CloudTrail, VPC Flow Logs or GuardDuty"
INVICTUS_USER = VertexRef(USER, "AIDATFQR7NSC5AU2ZV3IE")  # bert-jan, the attacker's key


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LoadReport, SqliteStore]]:
    report, store = load(tmp_path_factory.mktemp("datasets") / "g.db", [DATASETS])
    assert isinstance(store, SqliteStore)
    yield report, store
    store.close()


def rel(uri: str) -> str:
    return str(Path(uri.split("!")[0]).relative_to(DATASETS.resolve())) + (
        "!" + uri.split("!", 1)[1] if "!" in uri else ""
    )


def invictus_records() -> Iterator[dict[str, Any]]:
    for path in sorted((DATASETS / "invictus-ir-aws_dataset").glob("*.json")):
        yield from json.loads(path.read_bytes())["Records"]


def hour_of(text: str) -> int:
    y, mo, d, h = (int(x) for x in re.findall(r"\d+", text)[:4])
    return calendar.timegm((y, mo, d, h, 0, 0, 0, 0, 0))


def test_failed_files_are_the_broken_and_the_non_log_files(
    loaded: tuple[LoadReport, SqliteStore],
) -> None:
    report, _ = loaded
    assert {rel(f.source): f.reason for f in report.failed} == {
        "zmallen-cloudtrail2sightings/cloudtrail.zip!aws.execution.ec2-user-data.json": (
            "malformed JSON: JSON is malformed: expected ',' or ']' (byte 3327)"
        ),
        "SOURCES.md": UNRECOGNIZED,
        "otrf-security-datasets/aws_s3_honeybucketlogs.zip!AWS_S3_HoneyBucketLogs.csv": (
            UNRECOGNIZED
        ),
    }
    assert report.exit_code == 1


def test_not_yet_supported_sources_are_skipped_with_reasons(
    loaded: tuple[LoadReport, SqliteStore],
) -> None:
    """EKS audit logs and Security Hub findings; VPC flow logs and GuardDuty findings load."""
    report, _ = loaded
    assert report.skipped_reasons == {
        "eks-audit sources are not supported by this version": 1,
        "securityhub sources are not supported by this version": 1,
    }
    assert report.skipped_files == 2


PANTHER_BAD_LINES = [44, 45, 46, 47, 104, 337, 343, 344, 404, 405, 406, 407, 408]
PANTHER_BAD_LINES += [461, 467, 470, 472, 473, 474]


def test_record_errors_are_the_panther_fragments(loaded: tuple[LoadReport, SqliteStore]) -> None:
    report, store = loaded
    # independently: CloudTrail-looking records without a usable time, source or name
    expected = []
    lines = (DATASETS / PANTHER).read_text().splitlines()
    for number, line in enumerate(lines, 1):
        log = json.loads(line)["log"]
        if not isinstance(log, dict) or ("eventName" not in log and "eventSource" not in log):
            continue
        when = log.get("eventTime") or log.get("@timestamp") or log.get("p_event_time") or ""
        timed = re.match(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", when)
        if not (timed and log.get("eventSource") and log.get("eventName")):
            expected.append(number)
    assert expected == PANTHER_BAD_LINES
    source = str((DATASETS / PANTHER).resolve())
    where = [e.removeprefix(f"{source}: ").split(": ", 1)[0] for e in report.errors]
    assert where == [f"line {n}" for n in PANTHER_BAD_LINES]
    assert all(e.startswith(f"{source}: line ") for e in report.errors)
    assert report.record_errors == len(PANTHER_BAD_LINES)
    assert f"{source}: line 337: not an ISO 8601 timestamp: 'redacted'" in report.errors
    assert f"{source}: line 44: missing required field eventTime" in report.errors
    assert f"{source}: line 343: missing required field eventTime, eventSource" in report.errors
    assert report.partial_files == 1
    (entry,) = store.ledger(report.graph or "", [source])[source]
    assert (entry.status, entry.kind, entry.records, entry.loaded, entry.skipped) == (
        "partial",
        "cloudtrail",
        len(lines),
        len(lines) - 20 - len(PANTHER_BAD_LINES),
        20,
    )
    assert len(entry.errors) == len(PANTHER_BAD_LINES)


# SOURCES.md: events per folder (zmallen: 15 less the 3 of its malformed member; flosell: 2 + 2 + 3;
# cribl: 205 captured + 44 hand-made; panther: 484 lines less 20 non-events and the fragments,
# plus 6 flow records and 8 findings in its other files; cribl-vpc-flow: 198 flow records with
# data; aws-samples and secmon: 3 findings each)
LOADED_PER_FOLDER = {
    "aws-samples-amazon-guardduty-automated-response-sample": 3,
    "criblpacks-cribl-vpc-flow-for-security-teams": 198,
    "secmon-as-code-alertchain": 3,
    "invictus-ir-aws_dataset": 2900,
    "otrf-security-datasets": 103,
    "zmallen-cloudtrail2sightings": 12,
    "flosell-trailscraper": 7,
    "ccbrown-cloud-snitch": 21,
    "criblpacks-cribl-aws-cloudtrail-logs": 249,
    "sumologic-sumologic-aws-lambda": 1,
    "panther-labs-panther-analysis": 484 - 20 - len(PANTHER_BAD_LINES) + 27 + 6 + 8,
}


def test_every_other_log_file_loads_without_errors(
    loaded: tuple[LoadReport, SqliteStore],
) -> None:
    report, store = loaded
    uris = [obj.uri for obj in iter_objects([str(DATASETS)])]
    ledger = store.ledger(report.graph or "", uris)
    per_folder: Counter[str] = Counter()
    for uri, entries in ledger.items():
        (entry,) = entries
        if entry.status == "failed" or rel(uri) == PANTHER:
            continue
        assert (entry.status, entry.errors) == ("loaded", ()), uri
        assert entry.kind in ("cloudtrail", "vpcflow", "guardduty"), uri
        assert entry.records == entry.loaded + entry.skipped, uri
        per_folder[rel(uri).split("/")[0]] += entry.loaded
    per_folder[PANTHER.split("/")[0]] += ledger[str((DATASETS / PANTHER).resolve())][0].loaded
    assert dict(per_folder) == LOADED_PER_FOLDER
    assert report.loaded == sum(LOADED_PER_FOLDER.values())
    assert report.loaded_files == len(uris) - 1 - report.skipped_files - report.failed_files
    assert len(ledger) == len(uris) - report.skipped_files  # failures are recorded too


def test_invictus_user_call_counts_match_the_raw_files(
    loaded: tuple[LoadReport, SqliteStore],
) -> None:
    report, store = loaded
    expected: Counter[tuple[int, bool]] = Counter()
    for r in invictus_records():
        if r["userIdentity"].get("principalId") == INVICTUS_USER.key:
            failed = bool(r.get("errorCode")) or (
                r["eventName"] == "ConsoleLogin"
                and (r.get("responseElements") or {}).get("ConsoleLogin") == "Failure"
            )
            expected[(hour_of(r["eventTime"]), failed)] += 1
    assert sum(expected.values()) == 2642
    graph = report.graph or ""
    calls = store.neighbours(graph, [INVICTUS_USER], CALLED, direction=Direction.OUT)
    total = [
        sum(n.counts[0] for n in calls[INVICTUS_USER]),
        sum(n.counts[1] for n in calls[INVICTUS_USER]),
    ]
    assert total == [2403, 239]
    assert total == [
        sum(n for (_, bad), n in expected.items() if not bad),
        sum(n for (_, bad), n in expected.items() if bad),
    ]
    hours = sorted({h for h, _ in expected})
    series = store.series(
        graph,
        [INVICTUS_USER],
        CALLED,
        direction=Direction.OUT,
        start=hours[0],
        end=hours[-1] + 3600,
    )
    assert series[INVICTUS_USER] == [
        (h, (expected[(h, False)], expected[(h, True)])) for h in hours
    ]
    user = store.vertices(graph, [INVICTUS_USER])[INVICTUS_USER]
    assert dict(user.props) == {
        "name": "bert-jan",
        "arn": "arn:aws:iam::123837392027:user/bert-jan",
        "account": "123837392027",
    }


def test_invictus_assume_role_starts_sessions(loaded: tuple[LoadReport, SqliteStore]) -> None:
    report, store = loaded
    expected: Counter[tuple[VertexRef, str]] = Counter()
    for r in invictus_records():
        user = (r.get("responseElements") or {}).get("assumedRoleUser")
        if r["eventName"] == "AssumeRole" and not r.get("errorCode") and user:
            ui = r["userIdentity"]
            caller = (
                VertexRef(USER, ui["principalId"])
                if ui["type"] == "IAMUser"
                else VertexRef(SERVICE, ui["invokedBy"])
            )
            expected[(caller, user["assumedRoleId"])] += 1
    callers = sorted({c for c, _ in expected})
    got = store.neighbours(report.graph or "", callers, STARTED_SESSION, direction=Direction.OUT)
    actual = Counter(
        {(caller, n.ref.key): n.counts[0] for caller in callers for n in got.get(caller, [])}
    )
    assert actual == expected
    (bert,) = [
        n
        for n in got[INVICTUS_USER]
        if n.ref == VertexRef(SESSION, "AROATFQR7NSCWWVLB7BES:aws-go-sdk-1688990082523310002")
    ]
    assert (bert.qualifier, bert.counts, bert.first, bert.last) == (
        "AssumeRole",
        (2,),
        calendar.timegm((2023, 7, 10, 11, 54, 47, 0, 0, 0)),
        calendar.timegm((2023, 7, 10, 11, 54, 47, 0, 0, 0)),
    )


def test_ccbrown_org_trail_account_comes_from_the_records(
    loaded: tuple[LoadReport, SqliteStore],
) -> None:
    report, store = loaded
    name = "222222222222_CloudTrail_us-east-1_20250306T0230Z_QF6qcgyiaVnSueXa.json.gz"
    path = DATASETS / "ccbrown-cloud-snitch" / name
    records = json.loads(gzip.decompress(path.read_bytes()))["Records"]
    acl = [r for r in records if r["eventName"] == "GetBucketAcl"]
    assert {r["recipientAccountId"] for r in records} == {"222222222222"}
    # the first loaded file in sorted order (aws-samples' GuardDuty finding) names the admin
    assert report.graph == graph_arn("123456789012", "us-east-1")
    (info,) = store.list_graphs()
    assert info.admin_account == "123456789012"
    account, api = (
        VertexRef(ACCOUNT, "222222222222"),
        VertexRef(API, "s3.amazonaws.com:GetBucketAcl"),
    )
    calls = store.neighbours(
        report.graph, [account], CALLED, direction=Direction.OUT, others=[api]
    )[account]
    assert [(n.qualifier, n.counts) for n in calls] == [("cloudtrail.amazonaws.com", (len(acl), 0))]
    assert len(acl) == 14
    other = VertexRef(ACCOUNT, "333333333333")
    assert set(store.vertices(report.graph, [account, other])) == {account, other}


def test_loading_again_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    first, store = load(db, [DATASETS])
    store.close()

    def cli_export(name: str) -> bytes:
        out = tmp_path / name
        subprocess.run(
            [GUMSHOE, "export", "--store", f"sqlite://{db}", "-o", str(out)],
            check=True,
            timeout=120,
        )
        return out.read_bytes()

    before = cli_export("before.jsonl")
    again, store = load(db, [DATASETS])
    try:
        assert export_text(store).encode() == before
    finally:
        store.close()
    assert cli_export("after.jsonl") == before
    # every object that loaded reports already loaded; nothing is read into the graph again
    assert again.already_loaded == first.loaded_files + first.partial_files == 80
    assert (again.loaded_files, again.partial_files, again.records, again.loaded) == (0, 0, 0, 0)
    assert again.record_errors == 0
    # failed and not-yet-supported files are looked at again, with the same verdicts
    assert sorted((f.source, f.reason) for f in again.failed) == sorted(
        (f.source, f.reason) for f in first.failed
    )
    assert again.skipped_reasons == first.skipped_reasons
    assert again.files == first.files == 85
