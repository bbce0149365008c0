"""loaders.timeparse.parse_time: CloudTrail's format fast, every ISO variant log pipelines write."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from loaders.timeparse import parse_time

# 2023-07-10T11:42:18Z, the first event of the invictus dataset
T0 = calendar.timegm((2023, 7, 10, 11, 42, 18, 0, 0, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-07-10T11:42:18Z", T0),  # CloudTrail's own format (the fast path)
        ("1970-01-01T00:00:00Z", 0),
        ("2999-12-31T23:59:59Z", calendar.timegm((2999, 12, 31, 23, 59, 59, 0, 0, 0))),
        ("2024-02-29T00:00:00Z", calendar.timegm((2024, 2, 29, 0, 0, 0, 0, 0, 0))),
        ("2016-12-31T23:59:60Z", calendar.timegm((2017, 1, 1, 0, 0, 0, 0, 0, 0))),  # leap second
        # fractions are truncated, never rounded up
        ("2023-07-10T11:42:18.000Z", T0),
        ("2023-07-10T11:42:18.999Z", T0),
        ("2023-07-10T11:42:18,5Z", T0),
        ("2023-07-10T11:42:18.123456789Z", T0),
        ("2023-07-10T11:42:18z", T0),
        ("2023-07-10T11:42:18 UTC", T0),
        # offsets
        ("2023-07-10T11:42:18+00:00", T0),
        ("2023-07-10T13:42:18+02:00", T0),
        ("2023-07-10T13:42:18+0200", T0),
        ("2023-07-10T06:12:18-05:30", T0),
        ("2023-07-10T17:12:18.250+05:30", T0),
        ("2023-07-11T01:42:18+14:00", T0),
        # naive timestamps are UTC; seconds may be absent
        ("2023-07-10T11:42:18", T0),
        ("2023-07-10T11:42", T0 - 18),
        # a space instead of T (Athena, Panther), Panther's nanoseconds
        ("2023-07-10 11:42:18", T0),
        ("2023-07-10 11:42:18Z", T0),
        ("2023-07-10 11:42:18.000000000", T0),
        ("2026-01-11 22:54:56.000000000", calendar.timegm((2026, 1, 11, 22, 54, 56, 0, 0, 0))),
        ("2021-06-04 09:59:53.650807", calendar.timegm((2021, 6, 4, 9, 59, 53, 0, 0, 0))),
        ("2020-11-05 21:21:46Z", calendar.timegm((2020, 11, 5, 21, 21, 46, 0, 0, 0))),
        ("  2023-07-10T11:42:18Z  ", T0),  # surrounding whitespace
    ],
)
def test_parses(text: str, expected: int) -> None:
    assert parse_time(text) == expected


def test_fast_path_cache_gives_the_same_answers_twice() -> None:
    first = [parse_time(f"2023-07-10T{h:02d}:{m:02d}:07Z") for h in range(24) for m in (0, 59)]
    again = [parse_time(f"2023-07-10T{h:02d}:{m:02d}:07Z") for h in range(24) for m in (0, 59)]
    base = calendar.timegm((2023, 7, 10, 0, 0, 7, 0, 0, 0))
    assert first == again == [base + h * 3600 + m * 60 for h in range(24) for m in (0, 59)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "redacted",
        "...",
        "2023-07-10",
        "2023-07-10T",
        "10/07/2023 11:42:18",
        "2023-07-10T11:42:18Zjunk",
        "2023-07-10T11:42:18+2",
        "2023-13-10T11:42:18Z",  # month 13
        "2023-00-10T11:42:18Z",
        "2023-02-30T11:42:18Z",  # no 30 February
        "2023-02-29T11:42:18Z",  # not a leap year
        "2023-07-32T11:42:18Z",
        "2023-07-10T24:00:00Z",
        "2023-07-10T11:60:00Z",
        "2023-07-10T11:42:61Z",
        "1969-12-31T23:59:59Z",  # before the epoch
        "3000-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        # 20 characters, 'Z' last, 'T' and ':' in place: shaped like the fast path's input
        "2023-07-10T11:-1:00Z",  # a negative minute
        "2023-07-10T11:00:-1Z",  # a negative second
        "2023-07-10T11: 1:00Z",  # a space-padded minute
        "2023-07-10T11:+1:00Z",
        "2023/07/10T11:42:18Z",  # wrong date separators
        "2023-07-10T1a:42:18Z",
    ],
)
def test_invalid_values_raise_value_error_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_time(text)
    assert repr(text[:64]) in str(info.value)


def test_error_message_truncates_long_values() -> None:
    text = "x" * 500
    with pytest.raises(ValueError) as info:
        parse_time(text)
    assert str(info.value) == f"not an ISO 8601 timestamp: {'x' * 64!r}"


# ----------------------------------------------------------------------------- property

_UTC_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2999, 12, 31, 23, 59, 59, 999_999),
    timezones=st.just(UTC),
)


def _variants(dt: datetime) -> list[str]:
    """The same instant written the ways CloudTrail, Lake, Athena and log pipelines write it."""
    return [
        dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z",
        dt.isoformat(),  # +00:00, fraction only when non-zero
        dt.replace(tzinfo=None).isoformat(),  # naive
        dt.isoformat(sep=" "),
        dt.strftime("%Y-%m-%d %H:%M:%S.%f") + "000",  # Panther nanoseconds
        dt.strftime("%Y-%m-%d %H:%M:%S"),
        dt.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        dt.strftime("%Y-%m-%dT%H:%M:%S,%fZ"),
    ]


@settings(max_examples=300, deadline=None)
@given(_UTC_TIMES)
def test_every_iso_variant_parses_to_the_exact_epoch(dt: datetime) -> None:
    expected = calendar.timegm(dt.utctimetuple())
    for text in _variants(dt):
        assert parse_time(text) == expected, text


@settings(max_examples=300, deadline=None)
@given(_UTC_TIMES, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_offsets_are_applied(dt: datetime, offset_minutes: int) -> None:
    local = dt.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assume(1970 <= local.year <= 2999)  # the local wall clock must be in range too
    expected = calendar.timegm(dt.utctimetuple())
    assert parse_time(local.isoformat()) == expected
    assert parse_time(local.isoformat(sep=" ", timespec="seconds")) == expected
    assert parse_time(local.strftime("%Y-%m-%dT%H:%M:%S%z")) == expected  # +HHMM
