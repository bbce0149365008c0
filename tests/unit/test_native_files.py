"""Local CloudTrail files read by the native core (`Staging.scan_file`, loaders/native/src/file.rs):
the same size, version (sha256 of the bytes) and staging as Python's read of the same file, and
anything unusual declined with nothing staged, so that Python reads it from the start and words
the error. A property test holds corruptions of a gzip file to the Python read's result."""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loaders.objects as objects
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals
from loaders.cloudtrail_native import BUILT, new_staging, stage_file
from loaders.jsonstream import WHOLE_LIMIT
from loaders.objects import ObjectResult, read_object
from loaders.sources import iter_objects
from tests.unit.test_delivery_fast_path import expanded
from tests.unit.test_native_staging import _delivery, _event

pytestmark = pytest.mark.skipif(not BUILT, reason="the native core is not built (no Rust)")
TEXT = _delivery(
    _event(),
    _event(eventName="AssumeRole", eventSource="sts.amazonaws.com"),  # staged by Python
    _event(eventName=""),  # a record error
    _event(sourceIPAddress="203.0.113.9", userAgent="aws-cli/2.15"),
)


def _read(path: Path, by_core: bool) -> tuple[ObjectResult, list[str], list[str]]:
    """One file read as a load reads it, by the core (`by_core`) or by Python (the object has
    no path for the core), with what it staged expanded."""
    (obj,) = list(iter_objects([str(path)]))
    assert obj.path == str(path.resolve())
    if not by_core:
        obj = replace(obj, path=None)
    deltas = CloudTrailDeltas(Principals())
    result = read_object(obj, deltas, None)
    return (result, *expanded(deltas))


def _same_as_python(path: Path) -> ObjectResult:
    core, python = _read(path, True), _read(path, False)
    assert repr(core[0]) == repr(python[0])
    assert core[1:] == python[1:]
    return core[0]


def _staged_by_core(path: Path, sniff: bool = True) -> Any:
    deltas = CloudTrailDeltas(Principals())
    errors: list[str] = []
    size = path.stat().st_size if path.is_file() else 0
    read = stage_file(deltas, str(path), size, sniff, None, errors)
    if read is None:  # nothing staged
        assert deltas.events == 0 and errors == []
        assert deltas.native is None or len(deltas.native) == 0
    return read


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_a_delivery_file_reads_as_python_reads_it(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("d.json.gz" if gz else "d.json")
    path.write_bytes(gzip.compress(TEXT) if gz else TEXT)
    read = _staged_by_core(path)
    assert read is not None
    size, version, staged = read
    data = path.read_bytes()
    assert (size, version) == (len(data), "sha256:" + hashlib.sha256(data).hexdigest())
    assert (staged.records, staged.loaded) == (4, 3)
    result = _same_as_python(path)
    assert (result.status, result.records, result.loaded) == ("partial", 4, 3)
    assert result.errors == ["record 2: missing required field eventName"]


def _member(text: bytes, *, flags: int = 0, extra: bytes = b"") -> bytes:
    """A gzip member written field by field (flags and the fields they announce)."""
    body = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = body.compress(text) + body.flush()
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0\0\xff" + extra
    return header + deflated + struct.pack("<II", zlib.crc32(text), len(text) & 0xFFFFFFFF)


GZ = gzip.compress(TEXT)
DECLINED = {
    "two gzip members": GZ + gzip.compress(_delivery(_event())),
    "the same member twice": GZ + GZ,  # (the footer's size is right for the first one)
    "trailing bytes": GZ + b"\0\0",
    "a trailing copy of the footer": GZ + GZ[-8:],
    "bad CRC": GZ[:-8] + bytes([GZ[-8] ^ 1]) + GZ[-7:],
    "footer size too small": GZ[:-4] + struct.pack("<I", len(TEXT) - 1),
    "footer size too large": GZ[:-4] + struct.pack("<I", len(TEXT) + 1),
    "truncated gzip": GZ[:-9],
    "header CRC": _member(TEXT, flags=0x02, extra=b"\0\0"),
    "extra field": _member(TEXT, flags=0x04, extra=b"\x02\0ab"),
    "not UTF-8": gzip.compress(TEXT[:-2] + b"\xff]}"),
    "digest file": json.dumps({"digestStartTime": "x", "logFiles": []}).encode(),
    "not CloudTrail": b'{"Records": [{"a": 1}]}',
    "leading blank": b"\n" + TEXT,
    "a JSON array": b"[" + TEXT + b"]",
    "empty": b"",
    "empty gzip": gzip.compress(b""),
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_the_core_declines_what_python_must_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / "f.json.gz"
    path.write_bytes(DECLINED[name])
    assert _staged_by_core(path) is None
    _same_as_python(path)


def test_gzip_header_fields_the_core_reads(tmp_path: Path) -> None:
    path = tmp_path / "f.json.gz"
    path.write_bytes(_member(TEXT, flags=0x09, extra=b"name.json\0"))  # FTEXT, FNAME
    assert _staged_by_core(path) is not None
    assert _same_as_python(path).loaded == 3


def test_a_text_over_the_limit_is_declined(tmp_path: Path) -> None:
    native = new_staging()
    for name, data in (("f.json.gz", GZ), ("f.json", TEXT)):
        path = tmp_path / name
        path.write_bytes(data)
        size = len(data)
        assert native.scan_file(str(path), size, True, None, len(TEXT) - 1) is None
        assert native.scan_file(str(path), size, True, None, len(TEXT)) is not None
        native.discard()
    assert len(TEXT) < WHOLE_LIMIT


@pytest.mark.parametrize("listed", [0, 1, len(GZ) - 1, len(GZ) + 1, 10 * len(GZ)])
def test_a_file_is_read_whole_whatever_its_listed_size(tmp_path: Path, listed: int) -> None:
    # (a file rewritten between the listing and the read: still read to its end)
    path = tmp_path / "d.json.gz"
    path.write_bytes(GZ)
    read = new_staging().scan_file(str(path), listed, True, None, WHOLE_LIMIT)
    assert read is not None
    size, version, scan = read
    assert (size, version) == (len(GZ), "sha256:" + hashlib.sha256(GZ).hexdigest())
    assert scan[0] == 4


def test_sniffing_follows_the_load_options(tmp_path: Path) -> None:
    # no eventVersion, eventName without eventSource: detect() does not call it CloudTrail,
    # but a load told `--source cloudtrail` reads it
    text = _delivery({k: v for k, v in _event().items() if k != "eventSource"})
    path = tmp_path / "f.json"
    path.write_bytes(text)
    assert _staged_by_core(path, sniff=True) is None
    read = _staged_by_core(path, sniff=False)
    assert read is not None and read[2].records == 1


def test_missing_files_and_directories_are_declined(tmp_path: Path) -> None:
    assert _staged_by_core(tmp_path / "absent.json") is None
    assert _staged_by_core(tmp_path) is None
    path = tmp_path / "gone.json"
    path.write_bytes(TEXT)
    (obj,) = list(iter_objects([str(path)]))
    path.unlink()
    result = read_object(obj, CloudTrailDeltas(Principals()), None)
    assert result.status == "failed"
    assert result.failure is not None and result.failure.startswith("cannot open:")


def test_the_switch_keeps_files_with_python(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "d.json.gz"
    path.write_bytes(GZ)
    monkeypatch.setattr(objects, "NATIVE", False)
    called: list[str] = []
    monkeypatch.setattr(objects, "stage_file", lambda *a: called.append("core"))
    (obj,) = list(iter_objects([str(path)]))
    deltas = CloudTrailDeltas(Principals())
    assert read_object(obj, deltas, None).loaded == 3
    assert called == [] and deltas.native is None


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(GZ) - 1), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, len(GZ) - 1), st.just(0)),
    st.tuples(st.just("append"), st.integers(1, 20), st.integers(0, 255)),
)


@settings(max_examples=150, deadline=None)
@given(mutations=st.lists(_mutation, min_size=1, max_size=3))
def test_corrupt_gzip_reads_as_python_reads_it(
    tmp_path_factory: pytest.TempPathFactory, mutations: list[tuple[str, int, int]]
) -> None:
    data = bytearray(GZ)
    for kind, at, value in mutations:
        if kind == "flip" and at < len(data):
            data[at] ^= value
        elif kind == "cut":
            del data[at:]
        elif kind == "append":
            data += bytes([value]) * at
    path = tmp_path_factory.mktemp("corrupt") / "f.json.gz"
    path.write_bytes(bytes(data))
    _same_as_python(path)
