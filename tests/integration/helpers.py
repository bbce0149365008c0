"""Shared helpers of the integration tests: loading, exporting, writing CloudTrail files."""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from graph.export import write_jsonl
from graph.sqlite import SqliteStore
from graph.store import GraphStore
from loaders.pipeline import Loader, LoadOptions
from loaders.report import LoadReport

DATASETS = Path(__file__).parents[1] / "data" / "datasets"
BIN = Path(sys.executable).parent
GUMSHOE = str(BIN / "gumshoe")


def export_text(store: GraphStore, graph: str | None = None) -> str:
    """The `gumshoe export` bytes of a store's only graph (or of `graph`)."""
    if graph is None:
        (info,) = store.list_graphs()
        graph = info.arn
    out = io.StringIO()
    write_jsonl(store.export(graph), out)
    return out.getvalue()


def load(
    db: Path | GraphStore, inputs: Sequence[str | Path], **options: Any
) -> tuple[LoadReport, GraphStore]:
    """Load `inputs` with a fresh Loader; returns the report and the (open) store."""
    store = db if not isinstance(db, Path) else SqliteStore(db)
    report = Loader(store, LoadOptions(**options)).load([str(i) for i in inputs])
    return report, store


def load_and_export(db: Path, inputs: Sequence[str | Path], **options: Any) -> str:
    report, store = load(db, inputs, **options)
    try:
        return export_text(store, report.graph)
    finally:
        store.close()


def event(
    name: str,
    time: str,
    *,
    account: str = "111122223333",
    user: str = "alice",
    source: str = "s3.amazonaws.com",
    ip: str = "198.51.100.7",
    region: str = "us-east-1",
    **fields: Any,
) -> dict[str, Any]:
    """A CloudTrail record shaped like the real ones (IAM user caller)."""
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": f"AIDA{user.upper()}EXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/{user}",
            "accountId": account,
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": user,
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.13.0 Python/3.11.4",
        "requestParameters": None,
        "responseElements": None,
        "eventID": f"{name}-{time}-{user}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
    }
    record.update(fields)
    return record


def delivery(records: Iterable[dict[str, Any]]) -> bytes:
    return json.dumps({"Records": list(records)}).encode()


def write(path: Path, data: bytes, *, compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def trail_key(account: str, region: str, day: str, stamp: str, suffix: str, org: str = "") -> str:
    """`AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`."""
    prefix = f"AWSLogs/{org}/" if org else "AWSLogs/"
    y, m, d = day.split("-")
    name = f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
    return f"{prefix}{account}/CloudTrail/{region}/{y}/{m}/{d}/{name}"


def exports_equal_without_sources(a: str, b: str) -> bool:
    """Exports hold no source URIs; compare them line by line after parsing."""
    return [json.loads(x) for x in a.splitlines()] == [json.loads(x) for x in b.splitlines()]
