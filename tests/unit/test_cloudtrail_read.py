"""loaders.cloudtrail.read_events: every accepted shape, per-record errors, unusable files."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

import loaders.cloudtrail as cloudtrail
from loaders.cloudtrail import Cursor, Event, FileError, Item, RecordError, Skipped, read_events

DATASETS = Path(__file__).parents[1] / "data" / "datasets"
ALICE = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLEALICE",
    "arn": "arn:aws:iam::111122223333:user/alice",
    "accountId": "111122223333",
    "userName": "alice",
}


def ev(name: str = "ListBuckets", second: int = 0, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": ALICE,
        "eventTime": f"2023-07-10T11:42:{second:02d}Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.13.0",
        "recipientAccountId": "111122223333",
        "eventID": f"id-{name}-{second}",
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


class EofGuard(io.BytesIO):
    """A byte stream that fails loudly when a reader keeps reading after end of file."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads_at_eof = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data:
            self.reads_at_eof += 1
            if self.reads_at_eof > 1000:
                raise AssertionError("read() called 1000 times at end of file: the reader loops")
        return data


def read(data: bytes, cursor: Cursor | None = None) -> list[Item]:
    return list(read_events(EofGuard(data), cursor))


def names(items: list[Item]) -> list[str | RecordError | Skipped]:
    """Events by name; errors and skips as they are."""
    return [i.eventName or "" if isinstance(i, Event) else i for i in items]


def events(items: list[Item]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


# ----------------------------------------------------------------------------- shapes


def test_s3_delivery_object() -> None:
    data = dumps({"Records": [ev("A", 1), ev("B", 2, errorCode="AccessDenied"), ev("C", 3)]})
    cursor = Cursor()
    items = read_events(io.BytesIO(data), cursor)
    # the fast path decodes the whole object at once: a list, whose index is the position
    assert isinstance(items, list) and cursor.where is None
    assert [type(i) for i in items] == [Event, Event, Event]
    a, b, c = events(read(data))
    assert (a.eventName, a.eventSource, a.eventTime, a.awsRegion) == (
        "A",
        "s3.amazonaws.com",
        "2023-07-10T11:42:01Z",
        "us-east-1",
    )
    assert (a.sourceIPAddress, a.userAgent, a.recipientAccountId) == (
        "198.51.100.7",
        "aws-cli/2.13.0",
        "111122223333",
    )
    assert (a.errorCode, b.errorCode, c.errorCode) == (None, "AccessDenied", None)
    assert json.loads(bytes(a.userIdentity)) == ALICE
    assert bytes(a.requestParameters) == b""


def test_real_s3_delivery_objects_load_every_record() -> None:
    path = DATASETS / "flosell-trailscraper/events-for-smoke-test.json"
    items = read(path.read_bytes())
    assert names(items) == ["DescribeLaunchConfigurations", "GetResource", "AssumeRole"]


def test_single_event() -> None:
    assert names(read(dumps(ev("GetObject")))) == ["GetObject"]
    assert names(read(b"\n  " + dumps(ev("GetObject")) + b"\n")) == ["GetObject"]


@pytest.mark.parametrize("shape", ["event", "delivery", "array", "lines"])
def test_utf8_byte_order_mark_is_accepted(shape: str) -> None:
    """first_byte() and detect() skip a BOM (Windows tools write one); decoding must too."""
    data = {
        "event": dumps(ev("A")),
        "delivery": dumps({"Records": [ev("A")]}),
        "array": dumps([ev("A")]),
        "lines": dumps(ev("A")) + b"\n" + dumps(ev("A")),
    }[shape]
    assert names(read(b"\xef\xbb\xbf" + data)) == ["A"] * (2 if shape == "lines" else 1)


def test_json_array() -> None:
    items = read(json.dumps([ev("A"), ev("B"), ev("C")], indent=2).encode())
    assert names(items) == ["A", "B", "C"]


def test_json_lines_with_a_blank_and_a_malformed_line() -> None:
    data = b"\n".join([dumps(ev("A")), b"", b"   ", b'{"eventName": "B",', dumps(ev("C")), b""])
    items = read(data)
    assert names(items) == ["A", RecordError("line 4", "truncated JSON (input ended early)"), "C"]


def test_json_lines_cursor_names_lines() -> None:
    cursor = Cursor()
    seen = [str(cursor) for _ in read_events(io.BytesIO(b"\n".join([dumps(ev())] * 3)), cursor)]
    assert seen == ["line 1", "line 2", "line 3"]


def test_invalid_utf8_inside_one_json_line_fails_only_that_line() -> None:
    bad = dumps(ev("B", userAgent="XX")).replace(b"XX", b"\xff\xfe")
    items = read(b"\n".join([dumps(ev("A")), bad, dumps(ev("C"))]))
    assert names(items) == ["A", RecordError("line 2", "invalid UTF-8 at byte 0"), "C"]


def test_eventbridge_envelope_from_real_data() -> None:
    items = read((DATASETS / "sumologic-sumologic-aws-lambda/event.json").read_bytes())
    (event,) = items
    assert isinstance(event, Event)
    assert (event.eventSource, event.eventName, event.eventTime) == (
        "guardduty.amazonaws.com",
        "CreateSampleFindings",
        "2018-10-03T00:53:52Z",
    )


def test_eventbridge_envelopes_as_json_lines() -> None:
    envelope = {"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3"}
    data = b"\n".join(dumps({**envelope, "detail": ev(n)}) for n in ("A", "B"))
    assert names(read(data)) == ["A", "B"]


def _plain(value: object) -> object:
    return bytes(value) if isinstance(value, msgspec.Raw) else value


def test_raw_as_object_from_real_cribl_capture() -> None:
    items = read((DATASETS / "criblpacks-cribl-aws-cloudtrail-logs/zyNWSr.json").read_bytes())
    evs = events(items)
    # SOURCES.md: 90 Cribl events, 40 of them with a `_raw` delivery object, 205 events in all
    assert len(evs) == 205
    # no event twice: the capture's 205 eventIDs are distinct, and so is what the loader decodes
    decoded = (msgspec.structs.astuple(e) for e in evs)
    assert len({tuple(map(_plain, fields)) for fields in decoded}) == 205
    assert sum(isinstance(i, Skipped) for i in items) == 50
    assert not [i for i in items if isinstance(i, RecordError)]


def test_raw_as_json_string() -> None:
    data = dumps([{"_raw": json.dumps(ev("A")), "source": "s3"}, {"_raw": ev("B")}])
    assert names(read(data)) == ["A", "B"]


def test_raw_string_holding_a_whole_delivery_object() -> None:
    delivery = json.dumps({"Records": [ev("A"), ev("B"), {"eventName": "C"}]})
    cursor = Cursor()
    got = []
    for item in read_events(io.BytesIO(dumps({"_raw": delivery, "sourcetype": "aws"})), cursor):
        got.append((str(cursor), item if not isinstance(item, Event) else item.eventName))
    assert got == [
        ("record 0.0", "A"),
        ("record 0.1", "B"),
        ("record 0.2", RecordError("record 0.2", "missing required field eventTime, eventSource")),
    ]


def test_log_and_message_wrappers() -> None:
    panther = {"log_type": "AWS.CloudTrail", "rule_id": "x", "log": ev("A")}
    vector = {"host": "h", "message": json.dumps(ev("B"))}
    assert names(read(b"\n".join([dumps(panther), dumps(vector)]))) == ["A", "B"]


def test_records_without_an_event_are_skipped() -> None:
    data = dumps([ev("A"), {"_raw": "plain text line"}, {"something": "else"}, {"log": 5}])
    assert names(read(data)) == [
        "A",
        Skipped("record 1", "envelope payload is not JSON"),
        Skipped("record 2", "no CloudTrail event in this record"),
        Skipped("record 3", "envelope payload is not JSON"),
    ]


# ----------------------------------------------------------------------------- records


@pytest.mark.parametrize(
    ("drop", "missing"),
    [
        (["eventName"], "eventName"),
        (["eventSource"], "eventSource"),
        (["eventTime"], "eventTime"),
        (["eventTime", "eventName"], "eventTime, eventName"),
        (["eventSource", "eventName", "eventTime"], "eventTime, eventSource, eventName"),
    ],
)
def test_records_missing_required_fields(drop: list[str], missing: str) -> None:
    broken = {k: v for k, v in ev("B").items() if k not in drop}
    expected = RecordError("record 1", f"missing required field {missing}")
    items = read(dumps({"Records": [ev("A"), broken, ev("C")]}))
    assert names(items) == ["A", expected, "C"]
    # the same in a JSON array (the generic path, not the typed delivery decoder)
    if len(drop) < 3:
        assert names(read(dumps([ev("A"), broken, ev("C")]))) == ["A", expected, "C"]


def test_empty_strings_count_as_missing() -> None:
    items = read(dumps([ev("A", eventSource=""), ev("B", eventTime="")]))
    assert names(items) == [
        RecordError("record 0", "missing required field eventSource"),
        RecordError("record 1", "missing required field eventTime"),
    ]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("eventName", 5, "Expected `str | null`, got `int` - at `$.eventName`"),
        ("eventTime", 1688989338, "Expected `str | null`, got `int` - at `$.eventTime`"),
        ("eventSource", ["s3"], "Expected `str | null`, got `array` - at `$.eventSource`"),
        ("errorCode", {"x": 1}, "Expected `str | null`, got `object` - at `$.errorCode`"),
    ],
)
def test_wrong_types_name_the_field(field: str, value: Any, expected: str) -> None:
    items = read(dumps({"Records": [ev("A"), ev("B", **{field: value})]}))
    assert names(items) == ["A", RecordError("record 1", f"wrong type: {expected}")]


def test_records_that_are_not_objects() -> None:
    assert names(read(b'[1, "x", null]')) == [
        RecordError("record 0", "wrong type: Expected `object`, got `int`"),
        RecordError("record 1", "wrong type: Expected `object`, got `str`"),
        RecordError("record 2", "wrong type: Expected `object`, got `null`"),
    ]


def test_string_typed_booleans_and_numbers_load() -> None:
    record = ev("A", readOnly="true", managementEvent="false", eventVersion=1.08)
    (event,) = read(dumps({"Records": [record]}))
    assert isinstance(event, Event) and event.eventName == "A"


@pytest.mark.parametrize("field", ["@timestamp", "p_event_time"])
def test_pipeline_timestamps_replace_event_time(field: str) -> None:
    record = ev("A", eventTime=None)
    record[field] = "2020-09-14T01:00:33.000Z"
    (event,) = read(dumps(record))
    assert isinstance(event, Event)
    assert cloudtrail.event_time(event) == "2020-09-14T01:00:33.000Z"


def test_event_time_wins_over_pipeline_timestamps() -> None:
    record = ev("A")
    record.update({"@timestamp": "2020-01-01T00:00:00Z", "p_event_time": "2021-01-01"})
    (event,) = read(dumps(record))
    assert isinstance(event, Event)
    assert cloudtrail.event_time(event) == "2023-07-10T11:42:00Z"


# ----------------------------------------------------------------------------- whole files


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file (0 bytes of content)"),
        (b" \n\t\r\n", "blank file"),
        (b"\xef\xbb\xbf  ", "blank file"),
        (b"hello, world\n", "not JSON: starts with b'h'"),
        (b"\x89PNG\r\n\x1a\n", "not JSON: starts with b'\\x89'"),
        (b'{"Records": [' + dumps(ev()) + b", " + dumps(ev())[:40], "truncated JSON"),
        (dumps(ev())[:-1], "truncated JSON"),
        (json.dumps([ev()], indent=2).encode()[:-4], "truncated JSON"),
        (b'{"Records": [' + dumps(ev()) + b" " + dumps(ev()) + b"]}", "malformed JSON"),
        (dumps(ev()) + b" trailing", "malformed JSON"),
    ],
)
def test_unusable_files_raise_file_error(data: bytes, message: str) -> None:
    with pytest.raises(FileError) as info:
        read(data)
    assert str(info.value).startswith(message)


def test_records_that_is_not_an_array() -> None:
    """A file whose Records is no array is unusable: a FileError or one record error, no crash."""
    for records in (None, ev("A"), "x"):
        try:
            items = read(dumps({"Records": records}))
        except FileError as e:
            assert "Records" in str(e)
        else:
            assert len(items) == 1 and isinstance(items[0], RecordError), items
            assert "Records" in items[0].message


def test_json_lines_whose_first_line_is_malformed() -> None:
    data = b"\n".join([b'{"eventName": oops}', dumps(ev("B")), dumps(ev("C"))])
    items = read(data)
    assert [type(i) for i in items] == [RecordError, Event, Event]
    assert isinstance(items[0], RecordError) and items[0].where == "line 1"
    assert names(items)[1:] == ["B", "C"]


def test_json_lines_starting_with_a_blank_line() -> None:
    assert names(read(b"\n".join([b"", dumps(ev("A")), dumps(ev("B"))]))) == ["A", "B"]


def test_json_lines_whose_first_line_has_invalid_utf8() -> None:
    bad = dumps(ev("A", userAgent="XX")).replace(b"XX", b"\xff")
    items = read(b"\n".join([bad, dumps(ev("B")), dumps(ev("C"))]))
    assert names(items) == [RecordError("line 1", "invalid UTF-8 at byte 0"), "B", "C"]


# ----------------------------------------------------------------------------- large files


def _big_sample() -> list[dict[str, Any]]:
    records = [
        ev(f"Op{i}", i % 60, requestParameters={"bucketName": f"b{i}", "k": "[,]"})
        for i in range(40)
    ]
    records[5] = {k: v for k, v in records[5].items() if k != "eventTime"}
    records[9]["eventName"] = 9
    records[13] = {"detail-type": "AWS API Call via CloudTrail", "detail": ev("Wrapped")}
    records[17] = {"_raw": json.dumps({"Records": [ev("RawA"), ev("RawB")]})}
    return records


@pytest.mark.parametrize("limit", [64, 300, 1000])
@pytest.mark.parametrize(
    "shape", ["array", "array-indented", "delivery", "delivery-indented", "json-lines"]
)
def test_streamed_paths_give_the_same_events_as_the_whole_file(
    monkeypatch: pytest.MonkeyPatch, shape: str, limit: int
) -> None:
    records = _big_sample()
    if shape == "json-lines":
        data = b"\n".join(dumps(r) for r in records) + b"\n"
        data = b"\n".join([data, b"", b"{broken"])  # a blank and a malformed last line
    else:
        value: Any = records if shape.startswith("array") else {"Records": records}
        data = json.dumps(value, indent=2 if shape.endswith("indented") else None).encode()
    whole_cursor, streamed_cursor = Cursor(), Cursor()
    whole = [(str(whole_cursor), i) for i in read_events(io.BytesIO(data), whole_cursor)]
    assert len(data) > limit * 4
    if shape == "json-lines":
        # the streamed JSON-lines path needs the first line inside the first read
        limit = max(limit, len(dumps(records[0])) + 2)
    monkeypatch.setattr(cloudtrail, "WHOLE_LIMIT", limit)
    streamed = [(str(streamed_cursor), i) for i in read_events(io.BytesIO(data), streamed_cursor)]
    assert streamed == whole
    assert len(events([i for _, i in whole])) == 39
    errors = [i for _, i in whole if isinstance(i, RecordError)]
    assert [e.where for e in errors] == (
        ["line 6", "line 10", "line 43"] if shape == "json-lines" else ["record 5", "record 9"]
    )


@pytest.mark.parametrize("where", ["between records", "inside a string"])
def test_streamed_truncated_array_is_a_file_error(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    data = json.dumps([ev(f"Op{i}") for i in range(20)]).encode()
    if where == "between records":
        cut = data.index(b', {"eventVersion"', len(data) // 2) + 1
    else:
        cut = data.index(b'"aws-cli/', len(data) // 2) + 5
    monkeypatch.setattr(cloudtrail, "WHOLE_LIMIT", 100)
    got: list[str] = []
    with pytest.raises(FileError) as info:
        for item in read_events(EofGuard(data[:cut])):
            assert isinstance(item, Event)
            got.append(item.eventName or "")
    assert str(info.value).startswith("truncated JSON")
    separators = [i for i in range(len(data)) if data.startswith(b', {"eventVersion"', i)]
    complete = sum(1 for i in separators if i < cut)  # records whose comma was read
    assert got == [f"Op{i}" for i in range(complete)] and complete >= 9
