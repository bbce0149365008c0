"""CloudTrail: read → parse. A source file becomes a stream of `Event`s and per-record errors.

Accepted shapes (detected from content, never from the file name):
- S3 delivery objects `{"Records": [...]}` (plain or gzip): the fast path, one typed decode;
- a single event, JSON arrays of events and JSON lines (CloudTrail Lake and Athena exports);
- envelopes around an event or a delivery object: EventBridge (`detail`), Splunk/Cribl (`_raw`,
  an object or a JSON string), Fluent Bit/Vector/Panther (`log`, `message`).
Only the fields the graph needs are decoded (msgspec skips the rest); `userIdentity` and the
request/response bodies stay raw bytes until an event needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec

from loaders.jsonstream import (
    WHOLE_LIMIT,
    ByteStream,
    TruncatedJson,
    first_byte,
    iter_array_items,
    iter_lines,
)

EMPTY = msgspec.Raw(b"")
MAX_NESTING = 3


class Event(msgspec.Struct, gc=False):
    eventTime: str | None = None
    # log pipelines that drop eventTime keep their own copy (Logstash, Panther)
    timestamp: str | None = msgspec.field(name="@timestamp", default=None)
    p_event_time: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    awsRegion: str | None = None
    sourceIPAddress: str | None = None
    userAgent: str | None = None
    errorCode: str | None = None
    recipientAccountId: str | None = None
    # (no eventID or eventType: nothing reads them, and every decoded string costs; 3% of the
    # typed decode of 17-event deliveries)
    userIdentity: msgspec.Raw = EMPTY
    requestParameters: msgspec.Raw = EMPTY
    responseElements: msgspec.Raw = EMPTY
    # envelopes
    Records: msgspec.Raw = EMPTY
    detail: msgspec.Raw = EMPTY
    raw: msgspec.Raw = msgspec.field(name="_raw", default=EMPTY)
    log: msgspec.Raw = EMPTY
    message: msgspec.Raw = EMPTY


class _Delivery(msgspec.Struct):
    Records: list[Event]


_delivery = msgspec.json.Decoder(_Delivery, strict=False)
_event = msgspec.json.Decoder(Event, strict=False)
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_string = msgspec.json.Decoder(str)
_raw_value = msgspec.json.Decoder(msgspec.Raw)


class _RecordsOnly(msgspec.Struct):
    Records: msgspec.Raw


_records_only = msgspec.json.Decoder(_RecordsOnly)
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)


class FileError(Exception):
    """The whole source object is unusable; nothing from it is loaded."""


@dataclass(frozen=True, slots=True)
class RecordError:
    where: str  # "record 17", "line 3", "record 4.2"
    message: str


@dataclass(frozen=True, slots=True)
class Skipped:
    where: str
    reason: str


Item = Event | RecordError | Skipped


class Cursor:
    """Where the item last yielded by `read_events` sits in its file ("record 3", "line 7")."""

    __slots__ = ("where",)

    def __init__(self) -> None:
        # None: the items came as a list, and an item's position is its index in it
        self.where: int | str | None = 0

    def __str__(self) -> str:
        if self.where is None:
            return "record"
        return f"record {self.where}" if isinstance(self.where, int) else self.where


def read_events(stream: ByteStream, cursor: Cursor | None = None) -> Iterable[Item]:
    """Every event of a decompressed CloudTrail source, with per-record errors in place.

    Raises FileError for an empty, truncated or non-JSON file. `cursor` follows the position.
    An S3 delivery object (the common case) comes back as a list, decoded in one call.
    """
    cursor = cursor or Cursor()
    head = stream.read(WHOLE_LIMIT + 1).removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM
    items = delivery_items(head)
    if items is not None:
        cursor.where = None
        return items
    return _read_events(stream, head, cursor)


def delivery_items(data: bytes) -> list[Item] | None:
    """The items of a whole S3 delivery object in one typed decode, or None when `data` is
    something else (then `read_events` finds out what). An item's position is its index."""
    if len(data) > WHOLE_LIMIT or first_byte(data) != ord("{"):
        return None
    try:
        records = _delivery.decode(data).Records
    except DECODE_ERRORS:
        return None
    return [
        ev
        if ev.eventName and ev.eventSource and (ev.eventTime or ev.timestamp or ev.p_event_time)
        else _missing(ev, f"record {i}")
        for i, ev in enumerate(records)
    ]


def _read_events(stream: ByteStream, head: bytes, cursor: Cursor) -> Iterator[Item]:
    first = first_byte(head)
    if first is None:
        raise FileError("empty file (0 bytes of content)" if not head else "blank file")
    if first not in b"{[":
        raise FileError(f"not JSON: starts with {bytes([first])!r}")
    if len(head) <= WHOLE_LIMIT:
        yield from _whole(head, cursor)
    elif first == ord("["):
        yield from _streamed_array(stream, head, cursor)
    elif _is_json_line(head):
        yield from _lines(iter_lines(stream, head), cursor)
    else:
        yield from _streamed_array(stream, head, cursor)


def _whole(data: bytes, cursor: Cursor) -> Iterator[Item]:
    try:
        delivery = _delivery.decode(data)
    except DECODE_ERRORS:
        pass
    else:
        for i, event in enumerate(delivery.Records):
            cursor.where = i
            if (
                event.eventName
                and event.eventSource
                and (event.eventTime or event.timestamp or event.p_event_time)
            ):
                yield event
            else:
                yield _missing(event, f"record {i}")
        return
    try:
        _raw_value.decode(data)  # well-formed JSON, one document?
    except DECODE_ERRORS as e:
        if _is_json_line(data):
            yield from _lines(iter_lines(_NoMore(), data), cursor)
            return
        raise FileError(_json_problem(e)) from None
    if first_byte(data) == ord("["):
        items = _raw_list.decode(data)
    else:
        try:
            records = _records_only.decode(data).Records
        except DECODE_ERRORS:
            yield from _record(data, "record 0", 0, cursor)
            return
        try:
            items = _raw_list.decode(records)
        except DECODE_ERRORS as e:
            raise FileError(f"Records is not an array: {_json_problem(e)}") from None
    for i, raw in enumerate(items):
        yield from _record(bytes(raw), f"record {i}", 0, cursor)


def _streamed_array(stream: ByteStream, head: bytes, cursor: Cursor) -> Iterator[Item]:
    try:
        for i, raw in enumerate(iter_array_items(stream, head)):
            yield from _record(raw, f"record {i}", 0, cursor)
    except TruncatedJson as e:
        raise FileError(f"truncated JSON: {e}") from None


def _lines(lines: Iterator[tuple[int, bytes]], cursor: Cursor) -> Iterator[Item]:
    for number, line in lines:
        yield from _record(line, f"line {number}", 0, cursor)


def _record(data: bytes, where: str, depth: int, cursor: Cursor) -> Iterator[Item]:
    cursor.where = where
    try:
        event = _event.decode(data)
    except DECODE_ERRORS as e:
        yield RecordError(where, _json_problem(e))
        return
    if event.eventName is not None or event.eventSource is not None:
        yield checked(event, where)
        return
    if event.Records:
        try:
            inner = _raw_list.decode(event.Records)
        except DECODE_ERRORS as e:
            yield RecordError(where, f"Records: {_json_problem(e)}")
            return
        for i, raw in enumerate(inner):
            yield from _record(bytes(raw), f"{where}.{i}", depth + 1, cursor)
        return
    payload = event.detail or event.raw or event.log or event.message
    if not payload or depth >= MAX_NESTING:
        yield Skipped(where, "no CloudTrail event in this record")
        return
    body = bytes(payload)
    if body[:1] == b'"':  # an envelope that carries the event as a JSON string
        try:
            body = _string.decode(body).encode()
        except DECODE_ERRORS as e:
            yield RecordError(where, _json_problem(e))
            return
    if first_byte(body) not in (ord("{"), ord("[")):
        yield Skipped(where, "envelope payload is not JSON")
        return
    if first_byte(body) == ord("["):
        try:
            inner = _raw_list.decode(body)
        except DECODE_ERRORS as e:
            yield RecordError(where, _json_problem(e))
            return
        for i, raw in enumerate(inner):
            yield from _record(bytes(raw), f"{where}.{i}", depth + 1, cursor)
        return
    yield from _record(body, where, depth + 1, cursor)


def _usable(event: Event) -> bool:
    return bool(event.eventName and event.eventSource and event_time(event))


def event_time(event: Event) -> str | None:
    return event.eventTime or event.timestamp or event.p_event_time


def checked(event: Event, where: str) -> Item:
    """The event, or the record error naming the required fields it lacks."""
    return event if _usable(event) else _missing(event, where)


def _missing(event: Event, where: str) -> RecordError:
    absent = [
        name
        for name, value in (
            ("eventTime", event_time(event)),
            ("eventSource", event.eventSource),
            ("eventName", event.eventName),
        )
        if not value
    ]
    return RecordError(where, f"missing required field {', '.join(absent)}")


def _is_json_line(data: bytes) -> bool:
    """JSON lines: several lines, and one of the first few is a whole non-empty object.

    (A pretty-printed document has no such line, so a truncated one stays a file error.)
    """
    lines = [line for line in data.split(b"\n", 64)[:64] if line.strip(b" \t\r")]
    if len(lines) < 2:
        return False
    for line in lines[:16]:
        try:
            value = msgspec.json.decode(line)
        except DECODE_ERRORS:
            continue
        if isinstance(value, dict) and value:
            return True
    return False


def _json_problem(e: Exception) -> str:
    if isinstance(e, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {e.start}"
    text = str(e)
    if "truncated" in text:
        return "truncated JSON (input ended early)"
    if isinstance(e, msgspec.ValidationError):
        return f"wrong type: {text}"
    return f"malformed JSON: {text}"


class _NoMore:
    def read(self, _n: int = -1) -> bytes:
        return b""
