"""Bad input next to good input: a clear error naming the file, a failed ledger entry, and a
graph exactly as if only the good file had been loaded."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from graph.sqlite import SqliteStore
from graph.store import GraphStore
from loaders.report import LoadReport
from tests.integration.helpers import DATASETS, delivery, event, export_text, load

GOOD_NAME = "218007301253_CloudTrail_us-east-1_20230710T1150Z_1vnLavRRp0ek1mP4.json"
GOOD_SOURCE = DATASETS / "invictus-ir-aws_dataset" / GOOD_NAME
GOOD_EVENTS = 2
UNRECOGNIZED = "unrecognized content: not CloudTrail, VPC Flow Logs or GuardDuty"


def _good_records() -> list[dict[str, object]]:
    return json.loads(GOOD_SOURCE.read_bytes())["Records"]  # type: ignore[no-any-return]


def _garbage_gzip() -> bytes:
    header = gzip.compress(b"x", mtime=0)[:10]  # a valid member header
    return header + bytes((i * 97 + 13) % 256 for i in range(400))


def _truncated_gzip() -> bytes:
    data = gzip.compress(delivery(_good_records() * 50), mtime=0)
    return data[: len(data) // 2]


def _zip_with_broken_member() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a-broken.json", delivery(_good_records() * 20))
        zf.writestr("b-good.json", delivery([event("ListBuckets", "2023-07-10T11:50:00Z")]))
    data = bytearray(buf.getvalue())
    start = 30 + len("a-broken.json")  # the first member's deflate data
    for i in range(start + 40, start + 80):
        data[i] ^= 0xA5
    return bytes(data)


BAD_RECORD = event("ListBuckets", "2023-07-10T11:50:00Z", account="123837392027")

# name, file name, content, expected failure reason (None: record errors instead)
CASES: list[tuple[str, str, Callable[[], bytes], str | None, list[str]]] = [
    ("empty", "empty.json", lambda: b"", "empty file (0 bytes)", []),
    (
        "corrupt-gzip",
        "corrupt.json.gz",
        _garbage_gzip,
        "corrupt gzip data: ",
        [],
    ),
    (
        "truncated-gzip",
        "truncated.json.gz",
        _truncated_gzip,
        "corrupt gzip data: Compressed file ended before the end-of-stream marker was reached",
        [],
    ),
    (
        "truncated-json",
        "truncated.json",
        lambda: delivery(_good_records())[:-30],
        "truncated JSON (input ended early)",
        [],
    ),
    (
        "missing-fields",
        "missing.json",
        lambda: delivery([{k: v for k, v in BAD_RECORD.items() if k != "eventTime"}]),
        None,
        ["record 0: missing required field eventTime"],
    ),
    (
        "wrong-types",
        "types.json",
        lambda: delivery([{**BAD_RECORD, "eventName": 5}, {**BAD_RECORD, "eventTime": "soon"}]),
        None,
        [
            "record 0: wrong type: Expected `str | null`, got `int` - at `$.eventName`",
            "record 1: not an ISO 8601 timestamp: 'soon'",
        ],
    ),
    (
        "invalid-utf8",
        "utf8.json",
        lambda: delivery([{**BAD_RECORD, "userAgent": "ZZ"}]).replace(b"ZZ", b"\xc3\x28"),
        None,
        ["record 0: invalid UTF-8 at byte 0"],
    ),
    ("not-json", "notes.txt", lambda: b"this is not a log\njust text\n", UNRECOGNIZED, []),
    (
        "png",
        "image.json",
        lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        UNRECOGNIZED,
        [],
    ),
]


def _write_case(directory: Path, name: str, content: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "good.json").write_bytes(GOOD_SOURCE.read_bytes())
    bad = directory / name
    bad.write_bytes(content)
    return bad


@pytest.fixture(scope="module")
def good_alone(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("good")
    (directory / "good.json").write_bytes(GOOD_SOURCE.read_bytes())
    report, store = load(directory / "g.db", [directory / "good.json"])
    try:
        assert (report.loaded, report.exit_code) == (GOOD_EVENTS, 0)
        return export_text(store)
    finally:
        store.close()


def _assert_good_file_loaded(store: GraphStore, report: LoadReport, directory: Path) -> None:
    good = str((directory / "good.json").resolve())
    (entry,) = store.ledger(report.graph or "", [good])[good]
    assert (entry.status, entry.records, entry.loaded, entry.errors) == (
        "loaded",
        GOOD_EVENTS,
        GOOD_EVENTS,
        (),
    )


@pytest.mark.parametrize(
    ("file_name", "make", "reason", "errors"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_file_fails_alone(
    tmp_path: Path,
    sqlite_store: SqliteStore,
    good_alone: str,
    file_name: str,
    make: Callable[[], bytes],
    reason: str | None,
    errors: list[str],
) -> None:
    bad = _write_case(tmp_path / "in", file_name, make())
    uri = str(bad.resolve())
    report, store = load(sqlite_store, [tmp_path / "in"])  # the shared fixture's store
    if reason is not None:
        assert [(f.source, f.reason[: len(reason)]) for f in report.failed] == [(uri, reason)]
        assert report.errors == []
    else:
        assert report.errors == [f"{uri}: {e}" for e in errors]
        assert report.record_errors == len(errors)
    assert report.exit_code == 1
    (entry,) = store.ledger(report.graph or "", [uri])[uri]
    assert entry.status == "failed"
    assert entry.loaded == 0
    # the ledger keeps the reason: the file-level failure, else the record errors
    if reason is not None:
        assert len(entry.errors) == 1 and entry.errors[0].startswith(reason)
    else:
        assert list(entry.errors) == errors
    _assert_good_file_loaded(store, report, tmp_path / "in")
    assert report.loaded == GOOD_EVENTS
    assert export_text(store) == good_alone


def test_zip_with_a_broken_member(tmp_path: Path) -> None:
    bad = _write_case(tmp_path / "in", "archive.zip", _zip_with_broken_member())
    uri = str(bad.resolve())
    report, store = load(tmp_path / "g.db", [tmp_path / "in"])
    try:
        assert [f.source for f in report.failed] == [f"{uri}!a-broken.json"]
        assert report.failed[0].reason.startswith(("corrupt", "read error"))
        entries = store.ledger(report.graph or "", [f"{uri}!a-broken.json", f"{uri}!b-good.json"])
        assert entries[f"{uri}!a-broken.json"][0].status == "failed"
        assert entries[f"{uri}!b-good.json"][0].status == "loaded"
        _assert_good_file_loaded(store, report, tmp_path / "in")
        assert report.loaded == GOOD_EVENTS + 1
    finally:
        store.close()


def test_zip_member_with_bad_crc(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.json", delivery(_good_records()))
    data = buf.getvalue().replace(b"DescribeEventAggregates", b"DescribeEventAggregatez", 1)
    bad = _write_case(tmp_path / "in", "crc.zip", data)
    report, store = load(tmp_path / "g.db", [tmp_path / "in"])
    try:
        assert [f.source for f in report.failed] == [f"{bad.resolve()}!a.json"]
        assert report.loaded == GOOD_EVENTS
    finally:
        store.close()


def test_report_accounts_for_every_file(tmp_path: Path) -> None:
    """Each file is loaded, partly loaded, already loaded, skipped or failed — also when all its
    records were rejected (the ledger says failed; the report must count it as failed too)."""
    for i, (_, file_name, make, _, _) in enumerate(CASES):
        _write_case(tmp_path / "in" / f"case{i}", file_name, make())
    report, store = load(tmp_path / "g.db", [tmp_path / "in"])
    store.close()
    counted = report.loaded_files + report.partial_files + report.already_loaded
    counted += report.skipped_files + report.failed_files
    assert report.files == 2 * len(CASES)
    assert counted == report.files
    assert report.failed_files == len(CASES)


def test_failed_file_fixed_later_loads_on_the_next_run(tmp_path: Path) -> None:
    bad = _write_case(tmp_path / "in", "late.json", delivery(_good_records())[:-30])
    db = tmp_path / "g.db"
    first, store = load(db, [tmp_path / "in"])
    store.close()
    assert [f.source for f in first.failed] == [str(bad.resolve())]

    fixed = [event("GetObject", "2023-07-10T12:01:00Z", account="123837392027", user="carol")]
    bad.write_bytes(delivery(fixed))
    second, store = load(db, [tmp_path / "in"])
    try:
        assert (second.failed, second.already_loaded, second.loaded_files, second.loaded) == (
            [],
            1,
            1,
            1,
        )
        uri = str(bad.resolve())
        statuses = sorted(e.status for e in store.ledger(second.graph or "", [uri])[uri])
        assert statuses == ["failed", "loaded"]
        after = export_text(store)
    finally:
        store.close()
    # the same graph as loading the good and the fixed file together, once
    (tmp_path / "both").mkdir()
    (tmp_path / "both" / "good.json").write_bytes(GOOD_SOURCE.read_bytes())
    (tmp_path / "both" / "late.json").write_bytes(delivery(fixed))
    _, fresh = load(tmp_path / "fresh.db", [tmp_path / "both"])
    try:
        assert export_text(fresh) == after
    finally:
        fresh.close()
