"""Configuration of the baseline models, validated when it is built.

Every knob of the expected-value computation lives in one frozen `BaselineConfig`. It is checked
in `__post_init__`, so a bad value fails where it is written (a settings file, a test), with a
message naming the field, and never halfway through a fit. The instance is hashable: it is part of
every cache key (baselines.cache), so two profiles computed with different settings never share a
result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

SeasonalTier = Literal["auto", "never", "always"]
_TIERS: tuple[SeasonalTier, ...] = ("auto", "never", "always")


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    """Settings of the numpy tier (baselines.expected) and the statsmodels tier (.seasonal).

    Detective's numbers are the defaults: a 45-day baseline window before the scope and a 2-week
    training period. The statistical defaults are the ones bench/baselines_accuracy.py scores.
    """

    # -- windows (Detective's) -------------------------------------------------------------------
    baseline_days: int = 45
    min_training_days: int = 14

    # -- bounds ----------------------------------------------------------------------------------
    # One-sided probability that a normal hour lies above `upper` (and below `lower`). Small,
    # because an analyst reads every flagged hour: 0.0002 is about one flag per 5,000 normal hours.
    tail_probability: float = 0.0002
    # Weight, in pseudo-weeks, of the hour-of-day x day-of-week prior that every hour-of-week
    # estimate is shrunk toward; sparse series lean on the prior, busy ones on their own data.
    shrinkage: float = 1.0
    # Baseline observations further than `winsor_z` robust deviations above the hour-of-week
    # median are capped before averaging, so past spikes do not raise the expected values.
    winsor_z: float = 4.0
    # Upper limit of the over-dispersion estimate (variance = mean + dispersion * mean^2).
    max_dispersion: float = 4.0
    # Weeks after which an observation counts half (recent weeks matter more); None: all equal.
    half_life_weeks: float | None = None
    # A method is listed under increased volume only with at least this many calls in the scope:
    # 2 calls of a method called once in 45 days exceed its bound, but are no volume change
    # worth an analyst's time (Detective's example is a few calls a week turning into many a day).
    min_increased_calls: int = 5

    # -- the statsmodels tier --------------------------------------------------------------------
    seasonal_tier: SeasonalTier = "auto"
    # "auto" sends a series to STL/MSTL only when all of these hold: enough history for two weekly
    # periods and more, enough volume for a decomposition to see a pattern, and a level that moved
    # by at least `trend_threshold` (relative) between the first and the last week of its history.
    seasonal_min_history_days: int = 21
    seasonal_min_mean: float = 2.0
    trend_threshold: float = 0.3
    # at most this many series of one fit go to the statsmodels tier (the busiest first): its cost
    # is about 20 ms per series, the numpy tier's about 0.1 ms
    max_seasonal_series: int = 64

    # -- resources -------------------------------------------------------------------------------
    # series per vectorized block: small enough for the block's arrays to stay in the CPU cache
    # (512 series x 45 days is about 5 MB per array), large enough to amortize numpy's overhead
    chunk_series: int = 512

    def __post_init__(self) -> None:
        _positive_int("baseline_days", self.baseline_days)
        if not 0 <= self.min_training_days <= self.baseline_days:
            raise ValueError(
                f"min_training_days must be between 0 and baseline_days ({self.baseline_days}), "
                f"got {self.min_training_days}"
            )
        if not (isinstance(self.tail_probability, float | int) and 0 < self.tail_probability < 0.5):
            raise ValueError(f"tail_probability must be in (0, 0.5), got {self.tail_probability!r}")
        _non_negative("shrinkage", self.shrinkage)
        _positive("winsor_z", self.winsor_z)
        _non_negative("max_dispersion", self.max_dispersion)
        if self.half_life_weeks is not None:
            _positive("half_life_weeks", self.half_life_weeks)
        if not isinstance(self.min_increased_calls, int) or self.min_increased_calls < 0:
            raise ValueError(
                f"min_increased_calls must be a non-negative int, got {self.min_increased_calls!r}"
            )
        if self.seasonal_tier not in _TIERS:
            raise ValueError(f"seasonal_tier must be one of {_TIERS}, got {self.seasonal_tier!r}")
        if self.seasonal_min_history_days < 14:
            # MSTL needs two full periods of its longest (weekly) season
            raise ValueError(
                "seasonal_min_history_days must be at least 14 (two weekly periods), got "
                f"{self.seasonal_min_history_days}"
            )
        _non_negative("seasonal_min_mean", self.seasonal_min_mean)
        _non_negative("trend_threshold", self.trend_threshold)
        if not isinstance(self.max_seasonal_series, int) or self.max_seasonal_series < 0:
            raise ValueError(
                f"max_seasonal_series must be a non-negative int, got {self.max_seasonal_series!r}"
            )
        _positive_int("chunk_series", self.chunk_series)

    @property
    def z(self) -> float:
        """The standard normal quantile of the bounds."""
        return NormalDist().inv_cdf(1.0 - self.tail_probability)

    @property
    def baseline_seconds(self) -> int:
        return self.baseline_days * 86_400

    @property
    def baseline_hours(self) -> int:
        return self.baseline_days * 24


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _finite(name: str, value: object) -> float:
    if not isinstance(value, float | int) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _positive(name: str, value: object) -> None:
    if _finite(name, value) <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


def _non_negative(name: str, value: object) -> None:
    if _finite(name, value) < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")


DEFAULT_CONFIG = BaselineConfig()
