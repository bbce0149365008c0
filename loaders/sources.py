"""Source objects: local files, directories, zip members and S3 objects, read as byte streams.

A source object is the unit of the ingest ledger: its URI plus a version (an S3 ETag, or the
sha256 of the bytes read) identifies it. Enumeration is streaming and sorted, so a load is
reproducible and memory does not grow with the number of files.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

from botocore.exceptions import BotoCoreError, ClientError
from isal import igzip

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_ACCOUNT_IN_PATH = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/")


class ByteStream(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class SourceError(Exception):
    """A source object cannot be read (the message names the object)."""


@dataclass(frozen=True, slots=True)
class SourceObject:
    uri: str
    size: int
    # Known before reading (S3 ETag); otherwise the sha256 of the bytes is computed while reading.
    version: str | None
    # Cheap change detector for the ledger fast path (local files: size and mtime).
    hint: str
    opener: Callable[[], ByteStream]
    # a plain local file's path, which the native core may read itself (loaders.objects)
    path: str | None = None

    @property
    def account_hint(self) -> str | None:
        m = _ACCOUNT_IN_PATH.search(self.uri)
        return m.group(1) if m else None

    @property
    def name(self) -> str:
        return self.uri.rsplit("/", 1)[-1]


class HashingReader(io.RawIOBase):
    """Counts and hashes the bytes read through it."""

    def __init__(self, inner: ByteStream) -> None:
        self._inner = inner
        self._sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._sha.update(data)
        self.count += n
        return n

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def close(self) -> None:
        self._inner.close()
        super().close()


def decompressed(raw: io.RawIOBase) -> tuple[ByteStream, bool]:
    """A stream of the decompressed bytes, and whether it was gzip (told by magic, not name)."""
    buffered = io.BufferedReader(raw, 1 << 20)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return cast(ByteStream, igzip.IGzipFile(fileobj=buffered)), True  # type: ignore[no-untyped-call]
    return buffered, False


def iter_objects(inputs: Sequence[str], *, s3: Any = None) -> Iterator[SourceObject]:
    """Every source object under the inputs, each directory in sorted order."""
    for item in inputs:
        if item.startswith("s3://"):
            yield from _s3_objects(item, s3)
            continue
        path = Path(item)
        if not path.exists():
            raise SourceError(f"{item}: no such file or directory")
        root = str(path.resolve())  # resolved once: URIs are absolute without a per-file cost
        if path.is_dir():
            yield from _walk(root)
        else:
            yield from _local_objects(root, path.stat())


def _walk(directory: str) -> Iterator[SourceObject]:
    """Depth first, each directory's entries in name order. One loop over a stack of listings
    rather than a generator per directory: each object would otherwise pass up through one
    generator per level (eight in CloudTrail's S3 layout)."""
    stack = [_listing(directory)]
    while stack:
        for entry in stack[-1]:
            if entry.is_dir():
                stack.append(_listing(entry.path))
                break  # descend; this listing resumes where it stopped once the child is done
            if entry.is_file():
                path = entry.path
                st = entry.stat()
                if path.endswith(_LOG_SUFFIXES):  # (no generator for the usual file)
                    yield _local_file(path, st)
                else:
                    yield from _local_objects(path, st)
        else:
            stack.pop()


def _listing(directory: str) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as it:
        entries = [e for e in it if not e.name.startswith(".")]
    entries.sort(key=_entry_name)
    return iter(entries)


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


# Names that are never archives: skip the magic-number peek for them (one open per file less).
_LOG_SUFFIXES = (".gz", ".json", ".jsonl", ".log", ".ndjson", ".parquet", ".txt")


def _local_objects(uri: str, st: os.stat_result) -> Iterator[SourceObject]:
    if not uri.endswith(_LOG_SUFFIXES):
        with open(uri, "rb") as f:
            magic = f.read(4)
        if magic == ZIP_MAGIC and zipfile.is_zipfile(uri):
            yield from _zip_members(Path(uri), uri, _hint(st))
            return
    yield _local_file(uri, st)


def _local_file(uri: str, st: os.stat_result) -> SourceObject:
    return SourceObject(uri, st.st_size, None, _hint(st), partial(_open_file, uri), uri)


def _hint(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}"


def _open_file(path: str) -> ByteStream:
    return LocalFile(path)


class LocalFile:
    """A local file read with bare `os.read` calls: most log objects are a few kilobytes, and a
    buffered file object costs more to set up than reading them (a short read is the end of a
    regular file, so a whole small file takes one call)."""

    __slots__ = ("_fd",)

    def __init__(self, path: str) -> None:
        self._fd = -1
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def read(self, n: int = -1, /) -> bytes:
        if n >= 0:
            return os.read(self._fd, n)
        parts = []
        while chunk := os.read(self._fd, 1 << 20):
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


def _zip_members(path: Path, uri: str, hint: str) -> Iterator[SourceObject]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = sorted(
                (i for i in zf.infolist() if not i.is_dir() and not _hidden(i.filename)),
                key=lambda i: i.filename,
            )
    except (zipfile.BadZipFile, OSError) as e:
        raise SourceError(f"{uri}: corrupt zip archive: {e}") from e
    for info in infos:
        name = info.filename

        def opener(name: str = name) -> ByteStream:
            return _ZipMember(path, name)

        yield SourceObject(f"{uri}!{name}", info.file_size, None, f"{hint}:{info.CRC:08x}", opener)


class _ZipMember(io.RawIOBase):
    """A zip member stream that closes its archive too."""

    def __init__(self, path: Path, name: str) -> None:
        self._zf = zipfile.ZipFile(path)
        self._member = self._zf.open(name)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._member.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._member.close()
            self._zf.close()
        super().close()


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise SourceError(f"{uri}: no bucket in S3 URI")
    return bucket, prefix


def s3_client() -> Any:
    """A boto3 S3 client; AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) points it elsewhere."""
    import boto3

    return boto3.client("s3")


def _s3_objects(uri: str, s3: Any) -> Iterator[SourceObject]:
    bucket, prefix = parse_s3_uri(uri)
    s3 = s3 or s3_client()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    try:
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/") or _hidden(key):
                    continue
                etag = obj["ETag"].strip('"')

                def opener(key: str = key, etag: str = etag) -> ByteStream:
                    resp = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)
                    return resp["Body"]  # type: ignore[no-any-return]

                yield SourceObject(
                    f"s3://{bucket}/{key}", obj["Size"], f"etag:{etag}", f"etag:{etag}", opener
                )
    except (ClientError, BotoCoreError) as e:
        raise SourceError(f"{uri}: cannot list objects: {e}") from e
