"""The baseline window before a scope, and the training notice, as Detective defines them.

A scope is hour-aligned UTC, [start, end), one hour to one year long. Its baseline window is the
`baseline_days` (45) days before `start`. An entity first observed less than
`min_training_days` (14) before the scope has too little history for its comparisons to mean
much: Detective then shows "panel in training" on its new-behavior and increased-volume panels,
and gumshoe returns a `TrainingNotice` with the results.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.config import BaselineConfig
from graph.model import HOUR

DAY = 86_400
MAX_SCOPE = 366 * DAY  # one year, leap years included: Detective's longest scope


def check_scope(start: int, end: int) -> None:
    """Raise ValueError unless [start, end) is a valid scope."""
    for name, ts in (("start", start), ("end", end)):
        if not isinstance(ts, int) or isinstance(ts, bool):
            raise ValueError(f"scope {name} must be epoch seconds (int), got {ts!r}")
        if ts % HOUR:
            raise ValueError(f"scope {name} {ts} is not on the hour (scopes are hour-aligned)")
    if end <= start:
        raise ValueError(f"scope end {end} must be after its start {start} (at least one hour)")
    if end - start > MAX_SCOPE:
        raise ValueError("scope is longer than one year")


def baseline_start(start: int, config: BaselineConfig) -> int:
    return start - config.baseline_seconds


def scope_hours(start: int, end: int) -> int:
    return (end - start) // HOUR


@dataclass(frozen=True, slots=True)
class TrainingNotice:
    """Less than `required_days` of history precede the scope: comparisons are provisional."""

    history_start: int | None  # when the entity was first observed; None: never
    history_days: float  # days between the first observation and the scope start (>= 0)
    required_days: int
    message: str


def training_notice(
    first_observed: int | None, start: int, config: BaselineConfig
) -> TrainingNotice | None:
    """The notice for an entity first observed at `first_observed`, or None with enough history.

    History counts only inside the baseline window (older activity is not compared against)."""
    required = config.min_training_days
    if first_observed is None:
        days = 0.0
    else:
        since = max(first_observed - first_observed % HOUR, baseline_start(start, config))
        days = max(start - since, 0) / DAY
    if first_observed is not None and days >= required:
        return None
    what = "was never observed" if first_observed is None else f"has {days:.1f} days of history"
    return TrainingNotice(
        first_observed,
        days,
        required,
        f"In training: the entity {what} before the scope; baselines need {required} days, "
        "so expected values and newly observed behavior are provisional.",
    )
