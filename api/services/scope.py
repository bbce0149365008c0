"""Scope time: the analysis window of a profile, as Detective defines it.

A scope is UTC, starts and ends on the hour, and lasts from one hour to one year. Without one, a
profile shows the last 24 hours (up to the end of the current hour), as Detective does when a
profile is opened directly. New behavior is judged against the baseline window: the 45 days
before the scope starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.services.errors import InvalidInput
from graph.model import HOUR

DAY = 24 * HOUR
DEFAULT_HOURS = 24
BASELINE_DAYS = 45
BASELINE = BASELINE_DAYS * DAY
# one year, leap years included: Detective's maximum scope
MAX_SCOPE = 366 * DAY


@dataclass(frozen=True, slots=True)
class Scope:
    start: int  # epoch seconds, on the hour; the window is [start, end)
    end: int

    @property
    def baseline_start(self) -> int:
        return self.start - BASELINE

    @property
    def hours(self) -> range:
        return range(self.start, self.end, HOUR)

    def overlaps(self, first: int, last: int) -> bool:
        """Whether an activity observed from `first` to `last` (inclusive) touches the scope."""
        return first < self.end and last >= self.start


def default_scope(now: float) -> Scope:
    end = (int(now) // HOUR + 1) * HOUR
    return Scope(end - DEFAULT_HOURS * HOUR, end)


def _epoch(value: datetime, name: str) -> int:
    # a time without an offset is read as UTC, the behavior graph's only time zone
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    seconds = aware.timestamp()
    if seconds % HOUR:
        raise InvalidInput(
            f"scope {name} {aware.astimezone(UTC).isoformat()} is not on the hour: "
            "scope times start and end on the hour (UTC)"
        )
    return int(seconds)


def make_scope(start: datetime, end: datetime) -> Scope:
    """The scope from an API caller's start and end; raises InvalidInput when it is not one."""
    s, e = _epoch(start, "start"), _epoch(end, "end")
    if e <= s:
        raise InvalidInput("scope end must be after its start (at least one hour)")
    if e - s > MAX_SCOPE:
        raise InvalidInput("scope is longer than one year")
    return Scope(s, e)


def scope_or_default(start: datetime | None, end: datetime | None, *, now: float) -> Scope:
    if start is None and end is None:
        return default_scope(now)
    if start is None or end is None:
        raise InvalidInput("give both scope start and end, or neither")
    return make_scope(start, end)


def to_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
