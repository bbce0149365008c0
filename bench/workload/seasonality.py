"""The hour grid and seasonality: when events happen (weekly profiles in local time) and the
weighted choice groups that pick each event's values in one vectorized step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt

Arr = npt.NDArray[Any]
HOUR: Final = 3600
WINDOW: Final = 300
CHUNK_EVENTS: Final = 100_000
DEFAULT_START: Final = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday

# ----------------------------------------------------------------------------- seasonality

_DAY = np.array(
    [0.02, 0.015, 0.01, 0.01, 0.01, 0.02, 0.06, 0.2, 0.6, 1.0, 1.0, 1.0,
     0.7, 0.95, 1.0, 1.0, 0.9, 0.6, 0.35, 0.2, 0.15, 0.1, 0.06, 0.04]
)  # fmt: skip
PROFILES: Final = ("human", "ci", "flat")


def _week(profile: str) -> Arr:
    """168 hourly factors from Monday 00:00 local time, averaging 1."""
    if profile == "flat":
        return np.ones(168)
    if profile == "human":
        week = np.concatenate([_DAY] * 5 + [_DAY * 0.12] * 2)
    else:  # ci: workday pushes plus nightly jobs every day
        day = 0.15 + 0.85 * _DAY
        night = np.zeros(24)
        night[2] = 2.5
        week = np.concatenate([day + night] * 5 + [day * 0.25 + night] * 2)
    return np.asarray(week / week.mean())


_WEEKS: Final = {p: _week(p) for p in PROFILES}


def hourly_factor(profile: str, tz_offset: float, hours: Arr) -> Arr:
    """Seasonal factor (weekly mean 1) at UTC hour starts `hours` (epoch seconds)."""
    local = np.asarray(hours, dtype=np.int64) + int(tz_offset * 3600)
    return np.asarray(_WEEKS[profile][(local // HOUR + 72) % 168])  # 1970-01-01 was a Thursday


# ----------------------------------------------------------------------------- weighted choice


class _Groups:
    """Weighted choice sets, flattened so that a vectorized searchsorted picks in all at once."""

    def __init__(self) -> None:
        self.keys: list[float] = []
        self.vals: list[int] = []
        self.members: list[tuple[list[int], list[float]]] = []

    def add(self, vals: Sequence[int], weights: Sequence[float]) -> int:
        g = len(self.members)
        total = float(sum(weights))
        acc = 0.0
        for v, w in zip(vals, weights, strict=True):
            acc += w
            self.keys.append(g + acc / total)
            self.vals.append(v)
        self.keys[-1] = float(g + 1)
        self.members.append((list(vals), list(weights)))
        return g

    def arrays(self) -> tuple[Arr, Arr]:
        return np.array(self.keys, dtype=np.float64), np.array(self.vals, dtype=np.int64)


def _choose(keys: Arr, vals: Arr, group: Arr, u: Arr) -> Arr:
    return np.asarray(vals[np.searchsorted(keys, group + u * 0.9999999, side="right")])


def _zipf(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (i + 1) ** s for i in range(n)]
