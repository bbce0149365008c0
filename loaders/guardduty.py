"""GuardDuty findings: read → parse. A findings file becomes `Finding`s and per-record errors.

Accepted shapes (detected from content):
- the S3 export: JSON lines, one camelCase finding per line (`.jsonl.gz`);
- EventBridge "GuardDuty Finding" events (`detail` = the finding), one per file or per line;
- GetFindings API / CLI output: `{"Findings": [...]}` with PascalCase keys;
- a single finding, a JSON array of findings, `{"findings": [...]}` (an empty list is empty
  input, not an error), and log-pipeline envelopes (`log`, `_raw`, `message`: Panther, Splunk).
PascalCase keys are re-cased to camelCase (first letter lowered) so one set of structs decodes
both; only the fields the graph needs are declared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from loaders.cloudtrail import DECODE_ERRORS, FileError, RecordError, Skipped
from loaders.jsonstream import (
    WHOLE_LIMIT,
    ByteStream,
    TruncatedJson,
    first_byte,
    iter_array_items,
    iter_lines,
)
from loaders.timeparse import parse_time

MAX_NESTING = 3
_ENVELOPES = ("detail", "log", "_raw", "message")
_LISTS = ("findings", "Findings")


class RemoteIp(msgspec.Struct, gc=False):
    ipAddressV4: str | None = None
    ipAddressV6: str | None = None


class _Remote(msgspec.Struct, gc=False):
    remoteIpDetails: RemoteIp | None = None


class _PortProbe(msgspec.Struct, gc=False):
    portProbeDetails: list[_Remote] = []


class Action(msgspec.Struct, gc=False):
    awsApiCallAction: _Remote | None = None
    networkConnectionAction: _Remote | None = None
    kubernetesApiCallAction: _Remote | None = None
    rdsLoginAttemptAction: _Remote | None = None
    portProbeAction: _PortProbe | None = None


class Service(msgspec.Struct, gc=False):
    action: Action | None = None
    eventFirstSeen: str | None = None
    eventLastSeen: str | None = None
    count: int | None = None
    archived: bool | None = None
    resourceRole: str | None = None
    # an object in the S3/EventBridge export; {"value": "<JSON text>"} in the API's output
    additionalInfo: dict[str, Any] | None = None


class AccessKey(msgspec.Struct, gc=False):
    accessKeyId: str | None = None
    principalId: str | None = None
    userName: str | None = None
    userType: str | None = None


class Nic(msgspec.Struct, gc=False):
    networkInterfaceId: str | None = None
    vpcId: str | None = None
    subnetId: str | None = None


class Instance(msgspec.Struct, gc=False):
    instanceId: str | None = None
    instanceType: str | None = None
    imageId: str | None = None
    networkInterfaces: list[Nic] = []


class Bucket(msgspec.Struct, gc=False):
    name: str | None = None
    arn: str | None = None


class EksCluster(msgspec.Struct, gc=False):
    name: str | None = None
    arn: str | None = None


class Workload(msgspec.Struct, gc=False):
    name: str | None = None
    type: str | None = None
    namespace: str | None = None


class Kubernetes(msgspec.Struct, gc=False):
    kubernetesWorkloadDetails: Workload | None = None


class Resource(msgspec.Struct, gc=False):
    resourceType: str | None = None
    accessKeyDetails: AccessKey | None = None
    instanceDetails: Instance | None = None
    s3BucketDetails: list[Bucket] = []
    eksClusterDetails: EksCluster | None = None
    kubernetesDetails: Kubernetes | None = None


class Finding(msgspec.Struct, gc=False):
    id: str | None = None
    type: str | None = None
    accountId: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    severity: float | None = None
    arn: str | None = None
    partition: str | None = None
    region: str | None = None
    title: str | None = None
    description: str | None = None
    resource: Resource | None = None
    service: Service | None = None


REQUIRED = ("id", "type", "accountId", "createdAt", "updatedAt", "severity")
# a record with any of these is a finding (so a missing required field is its error)
_CAMEL_KEYS = frozenset({*REQUIRED, "schemaVersion", "arn", "resource", "service"})
_PASCAL_KEYS = frozenset(k[:1].upper() + k[1:] for k in _CAMEL_KEYS)
TIMES = ("createdAt", "updatedAt")
_value: msgspec.json.Decoder[Any] = msgspec.json.Decoder(Any)
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])

# a finding comes with where it sits in its file ("line 3", "record 0.2")
Item = tuple[str, Finding] | RecordError | Skipped


def read_findings(stream: ByteStream) -> Iterator[Item]:
    """Every finding of a decompressed findings file, with per-record errors in place.

    Raises FileError for an empty, truncated or non-JSON file."""
    head = stream.read(WHOLE_LIMIT + 1).removeprefix(b"\xef\xbb\xbf")
    first = first_byte(head)
    if first is None:
        raise FileError("empty file (0 bytes of content)" if not head else "blank file")
    if first not in b"{[":
        raise FileError(f"not JSON: starts with {bytes([first])!r}")
    if len(head) <= WHOLE_LIMIT:
        try:
            value = _value.decode(head)
        except DECODE_ERRORS as e:
            if not _is_json_lines(head):
                raise FileError(_problem(e)) from None
            yield from _lines(iter_lines(_Empty(), head))
            return
        items: list[Any] = value if isinstance(value, list) else [value]
        if isinstance(value, dict):  # a whole-file container's findings are its records
            items = next((value[k] for k in _LISTS if isinstance(value.get(k), list)), items)
        for i, item in enumerate(items):
            yield from _record(item, f"record {i}", 0)
        return
    if first == ord("["):
        try:
            for i, raw in enumerate(iter_array_items(stream, head)):
                yield from _raw_record(raw, f"record {i}")
        except TruncatedJson as e:
            raise FileError(f"truncated JSON: {e}") from None
        return
    yield from _lines(iter_lines(stream, head))


def _lines(lines: Iterator[tuple[int, bytes]]) -> Iterator[Item]:
    for number, line in lines:
        yield from _raw_record(line, f"line {number}")


def _raw_record(data: bytes, where: str) -> Iterator[Item]:
    try:
        value = _value.decode(data)
    except DECODE_ERRORS as e:
        yield RecordError(where, _problem(e))
        return
    yield from _record(value, where, 0)


def _record(value: Any, where: str, depth: int) -> Iterator[Item]:
    """One JSON value: a finding, a list or container of findings, or an envelope around one."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _record(item, f"{where}.{i}", depth + 1)
        return
    if not isinstance(value, dict):
        yield RecordError(where, f"not a JSON object: {type(value).__name__}")
        return
    for name in _LISTS:
        if name in value:
            inner = value[name]
            if not isinstance(inner, list):
                yield RecordError(where, f"{name}: not an array")
                return
            for i, item in enumerate(inner):
                yield from _record(item, f"{where}.{i}", depth + 1)
            return
    # envelopes first: an EventBridge event has an `id` of its own
    payload = next((value[k] for k in _ENVELOPES if value.get(k)), None)
    if payload is not None and depth < MAX_NESTING:
        if isinstance(payload, str):  # an envelope that carries the finding as JSON text
            try:
                payload = _value.decode(payload)
            except DECODE_ERRORS:
                yield Skipped(where, "envelope payload is not JSON")
                return
        yield from _record(payload, where, depth + 1)
        return
    if _CAMEL_KEYS & value.keys():
        found = parse_finding(value, where)
    elif _PASCAL_KEYS & value.keys():
        found = parse_finding(_camel(value), where)
    else:
        yield Skipped(where, "no GuardDuty finding in this record")
        return
    yield (where, found) if isinstance(found, Finding) else found


def parse_finding(value: dict[str, Any], where: str) -> Finding | RecordError:
    """A camelCase finding object → Finding, or the record's error (missing or mistyped field,
    unreadable timestamp)."""
    try:
        finding = msgspec.convert(value, Finding, strict=False)
    except msgspec.ValidationError as e:
        return RecordError(where, f"wrong type: {e}")
    absent = [name for name in REQUIRED if getattr(finding, name) in (None, "")]
    if absent:
        return RecordError(where, f"missing required field {', '.join(absent)}")
    for name in TIMES:
        try:
            parse_time(getattr(finding, name))
        except ValueError as e:
            return RecordError(where, f"{name}: {e}")
    return finding


def sample_of(service: Service | None) -> bool | None:
    """additionalInfo.sample, or the `sample` of the API's additionalInfo.value JSON text."""
    info = service.additionalInfo if service else None
    if not info:
        return None
    sample = info.get("sample")
    if sample is None and isinstance(info.get("value"), str):
        try:
            inner = _value.decode(info["value"])
        except DECODE_ERRORS:
            inner = None  # free-form detail GuardDuty may change: never fail a finding over it
        sample = inner.get("sample") if isinstance(inner, dict) else None
    return sample if isinstance(sample, bool) else None


def remote_ips(service: Service | None) -> list[str]:
    """Every remote IP address of the finding's action, in document order."""
    action = service.action if service else None
    if action is None:
        return []
    remotes = [
        action.awsApiCallAction,
        action.networkConnectionAction,
        action.kubernetesApiCallAction,
        action.rdsLoginAttemptAction,
        *(action.portProbeAction.portProbeDetails if action.portProbeAction else []),
    ]
    out: list[str] = []
    for remote in remotes:
        details = remote.remoteIpDetails if remote else None
        if details is not None:
            out += [ip for ip in (details.ipAddressV4, details.ipAddressV6) if ip]
    return out


def _camel(value: Any) -> Any:
    """PascalCase keys (the API's output) → camelCase, recursively."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _is_json_lines(data: bytes) -> bool:
    """Several lines, one of the first few a whole JSON object (a truncated pretty-printed
    document has none, so it stays a file error)."""
    lines = [line for line in data.split(b"\n", 64)[:64] if line.strip(b" \t\r")]
    if len(lines) < 2:
        return False
    for line in lines[:16]:
        try:
            if isinstance(_value.decode(line), dict):
                return True
        except DECODE_ERRORS:
            continue
    return False


def _problem(e: Exception) -> str:
    if isinstance(e, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {e.start}"
    text = str(e)
    if "truncated" in text:
        return "truncated JSON (input ended early)"
    return f"malformed JSON: {text}"


class _Empty:
    def read(self, _n: int = -1) -> bytes:
        return b""
