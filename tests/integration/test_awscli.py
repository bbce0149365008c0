"""The AWS CLI v2 against a running gumshoe: `aws detective ... --endpoint-url` works unchanged.

The CLI is a separate program (Debian's `awscli` package is v2; PyPI's `awscli` is v1): found
as $GUMSHOE_AWS_CLI, /usr/bin/aws or `aws` on PATH, whichever reports aws-cli/2. Without one the
tests skip, and fail in CI.

Debian's CLI (2.9) predates Detective's investigation operations (2023). The CLI's documented
way to use a newer service model is `~/.aws/models/<service>/<version>/service-2.json` (what
`aws configure add-model` writes): the investigation test gives the CLI botocore's current
Detective model that way, as a user of an older CLI would.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore
import pytest

from tests.conftest import IN_CI
from tests.integration.membership_support import (
    ADMIN,
    MEMBER,
    OTHER,
    key_of,
    server,
    sqlite_uri,
)


def _cli() -> str | None:
    candidates = [os.environ.get("GUMSHOE_AWS_CLI"), "/usr/bin/aws", shutil.which("aws")]
    for path in candidates:
        if not path or not os.path.exists(path):
            continue
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if out.stdout.startswith("aws-cli/2.") or out.stderr.startswith("aws-cli/2."):
            return path
    return None


AWS = _cli()
BASE_DB: dict[str, str] = {}  # server URL -> its SQLite file
pytestmark = pytest.mark.slow  # each CLI run starts a Python interpreter: about 1.5 s


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if AWS is None:
        message = "the AWS CLI v2 is not installed (Debian: apt-get install awscli)"
        if IN_CI:
            pytest.fail(message + " — CI must run these tests")
        pytest.skip(message)
    db = tmp_path_factory.mktemp("cli") / "cli.db"
    with server(sqlite_uri(db)) as url:
        BASE_DB[url] = str(db)
        yield url


def aws(
    base: str, who: str, *args: str, secret: str | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`aws detective <args>` as `who`, with nothing read from a profile or config file (but
    the service models under `home`/.aws/models when given)."""
    key, real_secret = key_of(who)
    assert AWS is not None
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home) if home else "/nonexistent",
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret or real_secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }
    return subprocess.run(
        [AWS, "detective", *args, "--endpoint-url", base, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def refused(result: subprocess.CompletedProcess[str], code: str) -> None:
    assert result.returncode != 0
    assert f"({code})" in result.stderr, result.stderr


def test_lifecycle_with_the_aws_cli(base: str) -> None:
    arn = ok(aws(base, "admin", "create-graph", "--tags", "team=secops"))["GraphArn"]
    assert arn.split(":")[4] == ADMIN
    assert ok(aws(base, "admin", "create-graph"))["GraphArn"] == arn
    assert [g["Arn"] for g in ok(aws(base, "admin", "list-graphs"))["GraphList"]] == [arn]
    ok(aws(base, "admin", "tag-resource", "--resource-arn", arn, "--tags", "env=prod"))
    ok(aws(base, "admin", "untag-resource", "--resource-arn", arn, "--tag-keys", "team"))
    tags = ok(aws(base, "admin", "list-tags-for-resource", "--resource-arn", arn))["Tags"]
    assert tags == {"env": "prod"}

    accounts = [f"AccountId={MEMBER},EmailAddress=m@example.com"]
    accounts += [f"AccountId={OTHER},EmailAddress=o@example.com"]
    created = ok(
        aws(
            base,
            "admin",
            "create-members",
            "--graph-arn",
            arn,
            "--message",
            "join us",
            "--disable-email-notification",
            "--accounts",
            *accounts,
        )
    )
    assert {m["AccountId"]: m["Status"] for m in created["Members"]} == {
        MEMBER: "INVITED",
        OTHER: "INVITED",
    }
    (invitation,) = ok(aws(base, "member", "list-invitations"))["Invitations"]
    assert invitation["GraphArn"] == arn
    ok(aws(base, "member", "accept-invitation", "--graph-arn", arn))
    ok(aws(base, "other", "reject-invitation", "--graph-arn", arn))
    listed = ok(aws(base, "admin", "list-members", "--graph-arn", arn))["MemberDetails"]
    assert [(m["AccountId"], m["Status"]) for m in listed] == [(MEMBER, "ENABLED")]
    got = ok(aws(base, "admin", "get-members", "--graph-arn", arn, "--account-ids", MEMBER, OTHER))
    assert [u["AccountId"] for u in got["UnprocessedAccounts"]] == [OTHER]

    ok(
        aws(
            base,
            "admin",
            "update-datasource-packages",
            "--graph-arn",
            arn,
            "--datasource-packages",
            "EKS_AUDIT",
        )
    )
    packages = ok(aws(base, "admin", "list-datasource-packages", "--graph-arn", arn))
    assert packages["DatasourcePackages"]["EKS_AUDIT"]["DatasourcePackageIngestState"] == "STARTED"
    history = ok(
        aws(
            base,
            "admin",
            "batch-get-graph-member-datasources",
            "--graph-arn",
            arn,
            "--account-ids",
            MEMBER,
        )
    )["MemberDatasources"][0]["DatasourcePackageIngestHistory"]
    assert "STARTED" in history["EKS_AUDIT"]
    mine = ok(aws(base, "member", "batch-get-membership-datasources", "--graph-arns", arn))
    assert mine["MembershipDatasources"][0]["GraphArn"] == arn

    # refusals: a member acting as administrator, a stranger, a wrong secret, a bad ARN
    refused(
        aws(base, "member", "delete-members", "--graph-arn", arn, "--account-ids", MEMBER),
        "AccessDeniedException",
    )
    refused(
        aws(base, "stranger", "accept-invitation", "--graph-arn", arn), "ResourceNotFoundException"
    )
    refused(aws(base, "admin", "list-graphs", secret="wrong"), "InvalidSignatureException")
    refused(
        aws(base, "admin", "list-members", "--graph-arn", "arn:aws:detective:x"),
        "ValidationException",
    )
    refused(aws(base, "member", "accept-invitation", "--graph-arn", arn), "ConflictException")

    ok(aws(base, "member", "disassociate-membership", "--graph-arn", arn))
    assert ok(aws(base, "member", "list-invitations"))["Invitations"] == []
    ok(aws(base, "admin", "delete-graph", "--graph-arn", arn))
    assert ok(aws(base, "admin", "list-graphs"))["GraphList"] == []
    refused(aws(base, "admin", "delete-graph", "--graph-arn", arn), "ResourceNotFoundException")


def _models_home(root: Path) -> Path:
    """A HOME whose ~/.aws/models holds botocore's current Detective model."""
    data = Path(botocore.__file__).parent / "data" / "detective"
    (version,) = [d.name for d in data.iterdir() if d.is_dir()]
    src = data / version / "service-2.json.gz"
    model = json.loads(gzip.decompress(src.read_bytes()) if src.exists() else b"")
    dest = root / ".aws" / "models" / "detective" / version
    dest.mkdir(parents=True)
    (dest / "service-2.json").write_text(json.dumps(model))
    return root


def test_investigations_with_the_aws_cli(base: str, tmp_path: Path) -> None:
    from graph.sqlite import SqliteStore
    from tests.unit.test_investigation import ROLE_ARN, SCOPE, build

    home = _models_home(tmp_path)
    arn = ok(aws(base, "admin", "create-graph", home=home))["GraphArn"]
    store = SqliteStore(Path(BASE_DB[base]))
    try:
        build(store, arn)
    finally:
        store.close()
    start = datetime.fromtimestamp(SCOPE, UTC)
    end = start + timedelta(days=1)
    scope = ["--scope-start-time", start.isoformat(), "--scope-end-time", end.isoformat()]
    started = aws(
        base, "admin", "start-investigation", "--graph-arn", arn, "--entity-arn", ROLE_ARN,
        *scope, home=home,
    )  # fmt: skip
    inv_id = ok(started)["InvestigationId"]
    got = ok(
        aws(base, "admin", "get-investigation", "--graph-arn", arn, "--investigation-id", inv_id,
            home=home)
    )  # fmt: skip
    assert (got["Status"], got["State"], got["Severity"], got["EntityType"]) == (
        "SUCCESSFUL",
        "ACTIVE",
        "CRITICAL",
        "IAM_ROLE",
    )
    # ListIndicators has no paginator in the model: follow NextToken as a script would
    found: list[Any] = []
    token: list[str] = []
    while True:
        page = ok(
            aws(base, "admin", "list-indicators", "--graph-arn", arn, "--investigation-id",
                inv_id, "--max-results", "2", *token, home=home)
        )  # fmt: skip
        found += page["Indicators"]
        if not page.get("NextToken"):
            break
        token = ["--next-token", page["NextToken"]]
    assert {i["IndicatorType"] for i in found} >= {"IMPOSSIBLE_TRAVEL", "TTP_OBSERVED"}
    assert len(found) > 2
    ok(
        aws(base, "admin", "update-investigation-state", "--graph-arn", arn,
            "--investigation-id", inv_id, "--state", "ARCHIVED", home=home)
    )  # fmt: skip
    archived = ok(
        aws(base, "admin", "list-investigations", "--graph-arn", arn, "--filter-criteria",
            json.dumps({"State": {"Value": "ARCHIVED"}}), home=home)
    )["InvestigationDetails"]  # fmt: skip
    assert [d["InvestigationId"] for d in archived] == [inv_id]
    refused(
        aws(base, "member", "get-investigation", "--graph-arn", arn, "--investigation-id",
            inv_id, home=home),
        "AccessDeniedException",
    )  # fmt: skip
    ok(aws(base, "admin", "delete-graph", "--graph-arn", arn, home=home))
