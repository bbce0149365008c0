"""Loading s3:// prefixes from a real S3 endpoint (moto's server over HTTP), like local files."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from api.cli import app
from graph.sqlite import SqliteStore
from loaders.graphs import graph_arn
from loaders.pipeline import Loader
from tests.integration.helpers import DATASETS, GUMSHOE, delivery, event, export_text, load

INVICTUS = DATASETS / "invictus-ir-aws_dataset"
CCBROWN = DATASETS / "ccbrown-cloud-snitch"
FLOSELL = DATASETS / "flosell-trailscraper"


def _objects() -> dict[str, bytes]:
    """A CloudTrail bucket: per-account prefixes, an organization trail, gzip objects."""
    out: dict[str, bytes] = {}
    for path in sorted(INVICTUS.glob("*T1205Z_*.json")):
        key = f"AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/{path.name}.gz"
        out[key] = gzip.compress(path.read_bytes(), mtime=0)
    org = "AWSLogs/o-1234abcde/222222222222/CloudTrail/us-east-1/2025/03/06/"
    for path in CCBROWN.glob("222222222222_*.json.gz"):
        out[org + path.name] = path.read_bytes()
    for path in CCBROWN.glob("333333333333_*.json.gz"):
        out[f"AWSLogs/333333333333/CloudTrail/us-east-1/2025/03/06/{path.name}"] = path.read_bytes()
    for path in FLOSELL.glob("*.json.gz"):
        out[f"AWSLogs/111111111111/CloudTrail/eu-central-1/2017/12/11/{path.name}"] = (
            path.read_bytes()
        )
    # records without recipientAccountId: the account comes from the key
    service = event(
        "GetBucketAcl",
        "2025-03-06T05:00:00Z",
        userIdentity={"type": "AWSService", "invokedBy": "config.amazonaws.com"},
        sourceIPAddress="config.amazonaws.com",
        recipientAccountId=None,
    )
    key = "AWSLogs/444455556666/CloudTrail/us-east-1/2025/03/06/444455556666_CloudTrail_x.json.gz"
    out[key] = gzip.compress(delivery([service]), mtime=0)
    return out


OBJECTS = _objects()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    return boto3.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"trail-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=name, Key=key, Body=body)
    s3.put_object(Bucket=name, Key="elsewhere/not-a-log.txt", Body=b"outside the prefix")
    return name


@pytest.fixture(scope="module")
def local_export(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same objects loaded from a local directory with the same layout."""
    root = tmp_path_factory.mktemp("local")
    for key, body in OBJECTS.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    report, store = load(root / "local.db", [root / "AWSLogs"])
    try:
        assert (report.failed, report.record_errors, report.loaded_files) == ([], 0, len(OBJECTS))
        return export_text(store)
    finally:
        store.close()


def _counting_get_object(client: Any) -> list[str]:
    keys: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        keys.append(params["Key"])

    client.meta.events.register("provide-client-params.s3.GetObject", count)
    return keys


def test_loader_reads_s3_like_local_files(
    s3: Any, bucket: str, local_export: str, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "s3.db")
    try:
        fetched = _counting_get_object(s3)
        report = Loader(store, s3=s3).load([f"s3://{bucket}/AWSLogs/"])
        assert (report.files, report.loaded_files, report.failed, report.record_errors) == (
            len(OBJECTS),
            len(OBJECTS),
            [],
            0,
        )
        assert sorted(fetched) == sorted(OBJECTS)
        # flosell's eu-central-1 object is the first key: its records' account administers
        assert report.graph == graph_arn("111111111111", "eu-central-1")
        assert export_text(store) == local_export
        uris = [f"s3://{bucket}/{key}" for key in OBJECTS]
        ledger = store.ledger(report.graph, uris)
        for key, body in OBJECTS.items():
            (entry,) = ledger[f"s3://{bucket}/{key}"]
            etag = f"etag:{hashlib.md5(body).hexdigest()}"
            assert (entry.version, entry.hint, entry.status, entry.size) == (
                etag,
                etag,
                "loaded",
                len(body),
            )
        # the org-trail object: account 222222222222 from its records and its key
        org_key = next(k for k in OBJECTS if "/o-1234abcde/" in k)
        assert ledger[f"s3://{bucket}/{org_key}"][0].loaded == 20

        fetched.clear()
        again = Loader(store, s3=s3).load([f"s3://{bucket}/AWSLogs/"])
        assert (again.files, again.already_loaded, again.loaded, again.bytes_read) == (
            len(OBJECTS),
            len(OBJECTS),
            0,
            0,
        )
        assert fetched == []  # nothing downloaded again
        assert export_text(store) == local_export
    finally:
        store.close()


def test_account_comes_from_the_key_when_records_lack_it(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "s3.db")
    try:
        report = Loader(store, s3=s3).load([f"s3://{bucket}/AWSLogs/444455556666/"])
        assert report.loaded == 1
        (info,) = store.list_graphs()
        assert info.admin_account == "444455556666"
        lines = [json.loads(x) for x in export_text(store).splitlines()]
        accounts = [r["key"] for r in lines if r.get("label") == "AwsAccount"]
        assert accounts == ["444455556666"]
    finally:
        store.close()


def test_cli_loads_s3_through_aws_endpoint_url(
    bucket: str, local_export: str, tmp_path: Path
) -> None:
    db = tmp_path / "cli.db"
    run = subprocess.run(
        [GUMSHOE, "load", "--store", f"sqlite://{db}", "--json", f"s3://{bucket}/AWSLogs/"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),  # the monkeypatched AWS_* variables
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["files"], report["loaded_files"], report["failed_files"]) == (
        len(OBJECTS),
        len(OBJECTS),
        0,
    )
    exported = CliRunner().invoke(app, ["export", "--store", f"sqlite://{db}"])
    assert exported.exit_code == 0
    assert exported.stdout == local_export
    again = CliRunner().invoke(
        app, ["load", "--store", f"sqlite://{db}", "--json", f"s3://{bucket}/AWSLogs/"]
    )
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["already_loaded"] == len(OBJECTS)


def test_missing_bucket_is_a_usage_error(s3: Any, tmp_path: Path) -> None:
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    result = CliRunner().invoke(
        app, ["load", "--store", f"sqlite://{tmp_path / 'g.db'}", f"s3://{missing}/AWSLogs/"]
    )
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert f"s3://{missing}/AWSLogs/: cannot list objects" in message
    assert "NoSuchBucket" in message
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_bucket_in_a_subprocess(s3: Any, tmp_path: Path) -> None:
    run = subprocess.run(
        [GUMSHOE, "load", "--store", f"sqlite://{tmp_path / 'g.db'}", "s3://no-such-bucket-x/"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "no-such-bucket-x" in run.stderr
