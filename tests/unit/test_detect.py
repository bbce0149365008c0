"""Source detection from content: CloudTrail digest files, and the order of detect()'s checks."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from graph.sqlite import SqliteStore
from loaders.detect import CLOUDTRAIL, DIGEST, GUARDDUTY, VPCFLOW, detect
from loaders.pipeline import Loader

# The shape CloudTrail documents for its digest files (one per hour next to the log files)
DIGEST_FILE = {
    "awsAccountId": "111122223333",
    "digestStartTime": "2026-03-01T10:00:00Z",
    "digestEndTime": "2026-03-01T11:00:00Z",
    "digestS3Bucket": "trail-bucket",
    "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/03/01/x.json.gz",
    "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
    "digestSignatureAlgorithm": "SHA256withRSA",
    "newestEventTime": "2026-03-01T10:59:59Z",
    "oldestEventTime": "2026-03-01T10:00:01Z",
    "previousDigestS3Bucket": None,
    "previousDigestS3Object": None,
    "previousDigestHashValue": None,
    "previousDigestHashAlgorithm": None,
    "previousDigestSignature": None,
    "logFiles": [
        {
            "s3Bucket": "trail-bucket",
            "s3Object": "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/y.json.gz",
            "hashValue": "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
            "hashAlgorithm": "SHA-256",
            "newestEventTime": "2026-03-01T10:59:59Z",
            "oldestEventTime": "2026-03-01T10:00:01Z",
        }
    ],
}

EVENT = {
    "eventVersion": "1.08",
    "eventTime": "2026-03-01T10:00:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "awsRegion": "us-east-1",
    "recipientAccountId": "111122223333",
    "userIdentity": {"type": "IAMUser", "accountId": "111122223333", "userName": "alice"},
}


def _reference(head: bytes) -> str | None:
    """detect()'s JSON branch as first written, checks in their original order: the oracle for
    the reordered one (the digest check used to scan the whole head before anything else)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text or text[:1] not in (b"{", b"["):
        return detect(head)

    def cloudtrail(t: bytes) -> bool:
        return b'"eventVersion"' in t or (b'"eventName"' in t and b'"eventSource"' in t)

    if b'"digestStartTime"' in text and b'"eventName"' not in text:
        return DIGEST
    if cloudtrail(text) or (b'\\"' in text and cloudtrail(text.replace(b'\\"', b'"'))):
        return CLOUDTRAIL
    return detect(head)  # the checks after these two were not reordered


def test_digest_files_are_detected_and_skipped(tmp_path: Path) -> None:
    body = json.dumps(DIGEST_FILE).encode()
    assert detect(body) == DIGEST
    digests = tmp_path / "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/03/01"
    digests.mkdir(parents=True)
    (digests / "x.json.gz").write_bytes(gzip.compress(body))
    logs = tmp_path / "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01"
    logs.mkdir(parents=True)
    (logs / "y.json.gz").write_bytes(gzip.compress(json.dumps({"Records": [EVENT]}).encode()))
    report = Loader(SqliteStore(tmp_path / "g.db")).load([str(tmp_path / "AWSLogs")])
    assert (report.loaded, report.skipped_files, report.failed_files) == (1, 1, 0)
    assert report.skipped_reasons == {"CloudTrail digest file": 1}


def test_a_delivery_that_names_digest_fields_is_still_cloudtrail() -> None:
    event = {**EVENT, "requestParameters": {"key": "digestStartTime", "digestStartTime": "x"}}
    body = json.dumps({"Records": [event]}).encode()
    assert b'"digestStartTime"' in body
    assert detect(body) == CLOUDTRAIL


FRAGMENTS = [
    b'"digestStartTime"',
    b'"eventName"',
    b'"eventSource"',
    b'"eventVersion"',
    b'\\"eventName\\"',
    b'\\"eventSource\\"',
    b'"GuardDuty Finding"',
    b"interface-id",
    b": 1, ",
    b"x",
]


@given(
    st.sampled_from([b"{", b"[", b" \n{", b"\xef\xbb\xbf["]),
    st.lists(st.sampled_from(FRAGMENTS), max_size=8),
)
def test_detect_agrees_with_its_original_order(start: bytes, parts: list[bytes]) -> None:
    head = start + b"".join(parts)
    assert detect(head) == _reference(head)


def test_the_oracle_tells_the_kinds_apart() -> None:
    """The property above compares real verdicts, not None with None."""
    samples = [
        json.dumps(DIGEST_FILE).encode(),
        json.dumps({"Records": [EVENT]}).encode(),
        b'{"detail-type": "GuardDuty Finding"}',
        b'{"interfaceId": "eni-1"}',
    ]
    assert [_reference(s) for s in samples] == [DIGEST, CLOUDTRAIL, GUARDDUTY, VPCFLOW]
