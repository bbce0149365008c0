"""Event timestamps to UTC epoch seconds, fast for CloudTrail's own format.

CloudTrail writes `2023-07-10T11:42:18Z`; exports and log pipelines add fractions, offsets,
a space instead of `T`, or nanoseconds (`2026-01-11 22:54:56.000000000`). The fast path caches the
epoch of each minute prefix of CloudTrail's format (`MINUTE_CACHE`, keyed by `2023-07-10T11:42:`,
stored only once the whole value has been validated) and maps the `18Z` tail through a fixed table,
so a timestamp costs two slices and two dict lookups; event timestamps of a file share minutes far
more often than seconds.
"""

from __future__ import annotations

import calendar
import re

_HOUR_CACHE: dict[str, int] = {}
# other formats: timestamps of a busy account share their seconds
SECOND_CACHE: dict[str, int] = {}
MINUTE_CACHE: dict[str, int] = {}
# the "SSZ" tail of CloudTrail's format -> seconds (60: a leap second, as _parse allows)
SECOND_TAILS: dict[str, int] = {f"{s:02d}Z": s for s in range(61)}
_FAST = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}:?\d{2})?"
)


def _hour_epoch(prefix: str) -> int:
    """Epoch seconds of 'YYYY-MM-DDTHH'."""
    epoch = _HOUR_CACHE.get(prefix)
    if epoch is None:
        y, mo, d, h = int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10]), int(prefix[11:13])
        _check(y, mo, d, h, 0, 0)
        epoch = calendar.timegm((y, mo, d, h, 0, 0, 0, 0, 0))
        if len(_HOUR_CACHE) > 100_000:
            _HOUR_CACHE.clear()
        _HOUR_CACHE[prefix] = epoch
    return epoch


def _check(y: int, mo: int, d: int, h: int, mi: int, s: int) -> None:
    if not (1970 <= y <= 2999 and 1 <= mo <= 12 and 0 <= h < 24 and 0 <= mi < 60):
        raise ValueError("out of range")
    if not 1 <= d <= calendar.monthrange(y, mo)[1] or not 0 <= s <= 60:
        raise ValueError("out of range")


def parse_time(value: str) -> int:
    """UTC epoch seconds of an ISO 8601 timestamp; naive timestamps are taken as UTC.

    Raises ValueError naming the value when it is not a timestamp.
    """
    try:
        return MINUTE_CACHE[value[:17]] + SECOND_TAILS[value[17:]]
    except KeyError:
        pass
    cached = SECOND_CACHE.get(value)
    if cached is not None:
        return cached
    epoch = _parse(value)
    if len(value) == 20 and value[17:] in SECOND_TAILS and _FAST.fullmatch(value):
        if len(MINUTE_CACHE) >= 200_000:
            MINUTE_CACHE.clear()
        MINUTE_CACHE[value[:17]] = epoch - SECOND_TAILS[value[17:]]
        return epoch
    if len(SECOND_CACHE) >= 200_000:
        SECOND_CACHE.clear()
    SECOND_CACHE[value] = epoch
    return epoch


def _parse(value: str) -> int:
    if (
        len(value) == 20
        and value[19] == "Z"
        and value[10] == "T"
        and value[4] == value[7] == "-"
        and value[13] == value[16] == ":"
    ):
        digits = value[0:4] + value[5:7] + value[8:10] + value[11:13] + value[14:16] + value[17:19]
        if digits.isascii() and digits.isdigit():
            mi, s = int(value[14:16]), int(value[17:19])
            if mi < 60 and s <= 60:
                try:
                    return _hour_epoch(value[:13]) + mi * 60 + s
                except ValueError:
                    pass  # the slow path names the value in its error
    return _parse_slow(value)


def _parse_slow(value: str) -> int:
    m = _ISO.fullmatch(value.strip())
    if m is None:
        raise ValueError(f"not an ISO 8601 timestamp: {value[:64]!r}")
    y, mo, d, h, mi = (int(m.group(i)) for i in range(1, 6))
    s = int(m.group(6) or 0)
    try:
        _check(y, mo, d, h, mi, s)
    except ValueError:
        raise ValueError(f"timestamp out of range: {value[:64]!r}") from None
    epoch = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    zone = m.group(8)
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        epoch -= offset if zone[0] == "+" else -offset
    return epoch
