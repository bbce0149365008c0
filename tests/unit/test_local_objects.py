"""Local source objects are read whole with bare system calls: the bytes, size and version must
be those of the file when it is read, whatever the listing said."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.objects import read_object
from loaders.sources import LocalFile, SourceObject, iter_objects


def _delivery(n: int) -> bytes:
    records = [
        {
            "eventVersion": "1.08",
            "eventTime": f"2024-01-01T00:{i % 60:02d}:00Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "ListBuckets",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                             "accountId": "111122223333", "userName": "alice",
                             "arn": "arn:aws:iam::111122223333:user/alice"},
        }
        for i in range(n)
    ]  # fmt: skip
    return gzip.compress(json.dumps({"Records": records}).encode())


def _only(path: Path) -> SourceObject:
    (obj,) = list(iter_objects([str(path)]))
    return obj


@pytest.mark.parametrize("events", [1, 3000])  # one read call; several 1 MiB reads
def test_whole_file_is_read_and_hashed(tmp_path: Path, events: int) -> None:
    data = _delivery(events)
    path = tmp_path / "a.json.gz"
    path.write_bytes(data)
    res = read_object(_only(path), CloudTrailDeltas(Principals()), None)
    assert (res.status, res.loaded, res.size) == ("loaded", events, len(data))
    assert res.version == f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.mark.parametrize("change", ["grown", "shrunk"])
def test_file_changed_after_listing_is_read_as_it_is_now(tmp_path: Path, change: str) -> None:
    small, large = _delivery(2), _delivery(40)
    path = tmp_path / "a.json.gz"
    path.write_bytes(small if change == "grown" else large)
    obj = _only(path)  # listed with the old size
    now = large if change == "grown" else small
    path.write_bytes(now)
    res = read_object(obj, CloudTrailDeltas(Principals()), None)
    assert res.size == len(now)
    assert res.version == f"sha256:{hashlib.sha256(now).hexdigest()}"
    assert res.loaded == (40 if change == "grown" else 2)


def test_local_file_reads_and_closes(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    payload = os.urandom((1 << 20) * 2 + 17)
    path.write_bytes(payload)
    f = LocalFile(str(path))
    assert f.read(5) == payload[:5]
    assert f.read() == payload[5:]
    assert f.read(10) == b""
    f.close()
    f.close()  # idempotent
    with pytest.raises(FileNotFoundError):
        LocalFile(str(tmp_path / "missing"))
