"""Expected values and bounds for every hour of a scope: the vectorized numpy tier.

How an expected value is computed, in plain words:

1. The baseline is the 45 days before the scope. Each of its hours is put in one of the 168
   hours of the week (Monday 00:00 UTC is the first), so each hour of the week has six or seven
   observations. Hours before the entity was first observed are missing, not zero.
2. Outliers are capped: a value far above the median of its hour of the week (more than
   `winsor_z` standard deviations under a Poisson-like model) is lowered to that limit, so one
   past incident does not raise the expectation for the weeks after it.
3. The average of each hour of the week is then pulled toward a smoother estimate, the
   hour-of-day level times the day-of-week level. How far is decided from the data
   (empirical Bayes): a busy series with a clear weekly pattern keeps its own averages, a sparse
   or noisy one leans on the smooth estimate. This is the *expected* value for that hour of the
   week, repeated over the scope.
4. The spread comes from a count model: variance = mean + dispersion x mean^2 (Poisson when
   the dispersion is 0; the dispersion is estimated per series), plus the uncertainty of the
   estimated mean. The *lower* and *upper* bounds are the `tail_probability` quantiles of that
   distribution, skew included (Cornish-Fisher), so a quiet hour expecting 0.1 calls has an upper
   bound of about 2, not 0.1 plus a symmetric margin.
5. With fewer than 14 days of history the series is marked `training`, as Detective does.

Everything is computed for all series at once (arrays of series x hours, in blocks of
`chunk_series`), with no Python loop over series: 100,000 series of 45 days take about
10-20 s on one core (bench/baselines_perf.py).
Series whose level moves (trends) can be refit by the statsmodels tier, baselines.seasonal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.hour_of_week import WEEK_HOURS, fit_block, hour_of_week
from graph.model import HOUR

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

TIER_NONE, TIER_NUMPY, TIER_SEASONAL = 0, 1, 2


def frozen(a: npt.ArrayLike, dtype: Any = np.float64) -> Any:
    out = np.array(a, dtype=dtype)
    out.flags.writeable = False
    return out


def quantile_bounds(
    expected: Floats, variance: Floats, cumulant3: Floats, z: float
) -> tuple[Floats, Floats]:
    """(lower, upper): Cornish-Fisher quantiles from the first three cumulants.

    The skew term (z^2 - 1)/6 * k3/var is what keeps the upper bound of a quiet hour above one
    or two calls: for a Poisson mean near 0 it tends to (z^2 - 1)/6, the discrete tail's
    correction that a symmetric bound lacks."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(variance > 0, cumulant3 / np.where(variance > 0, variance, 1.0), 1.0)
    skew = (z * z - 1.0) / 6.0 * ratio
    sd = np.sqrt(variance)
    upper = expected + z * sd + skew
    # Where the symmetric bound is already below 0, a count of 0 is well inside the
    # distribution (P(0) > tail probability): the skew term must not lift the bound off 0.
    symmetric = expected - z * sd
    lower = np.where(symmetric > 0, np.minimum(symmetric + skew, expected), 0.0)
    return lower, upper


@dataclass(frozen=True, slots=True, eq=False)
class WindowBounds:
    """Sums over some hours of the scope, one value per series (e.g. a scope's total)."""

    expected: Floats
    lower: Floats
    upper: Floats


@dataclass(frozen=True, slots=True, eq=False)
class BaselineResult:
    """What a fit returns: immutable arrays of (series x scope hours), plus per-series facts.

    `variance` and `cumulant3` are those of the predictive distribution of each hour; sums over
    hours (`window`) add them, so a scope total gets bounds of its own rather than the sum of
    hourly bounds (which would be far too wide)."""

    start: int  # epoch seconds of the first scope hour
    expected: Floats  # (n, horizon); NaN for a series without any history
    lower: Floats
    upper: Floats
    variance: Floats
    cumulant3: Floats
    history_hours: Ints  # (n,) hours of the baseline window after the series was first observed
    training: Bools  # (n,) less than min_training_days of history
    tier: npt.NDArray[np.int8]  # (n,) TIER_NONE (no history), TIER_NUMPY or TIER_SEASONAL
    config: BaselineConfig

    @property
    def n_series(self) -> int:
        return int(self.expected.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.expected.shape[1])

    @property
    def hours(self) -> list[int]:
        return [self.start + i * HOUR for i in range(self.horizon)]

    def window(self, hours: slice | None = None) -> WindowBounds:
        """Bounds of the sum over `hours` (scope hour indexes; all of the scope by default)."""
        cols = slice(None) if hours is None else hours
        expected = self.expected[:, cols].sum(axis=1)
        variance = self.variance[:, cols].sum(axis=1)
        cumulant3 = self.cumulant3[:, cols].sum(axis=1)
        lower, upper = quantile_bounds(expected, variance, cumulant3, self.config.z)
        return WindowBounds(frozen(expected), frozen(lower), frozen(upper))

    def exceeds(self, observed: npt.ArrayLike) -> Bools:
        """observed > upper, hour by hour (False where there is no baseline)."""
        obs = np.asarray(observed, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.asarray(obs > self.upper) & ~np.isnan(self.upper)

    def select(self, rows: npt.ArrayLike) -> BaselineResult:
        """The result restricted to some series (an index array or a boolean mask)."""
        idx = np.asarray(rows)
        return BaselineResult(
            self.start,
            frozen(self.expected[idx]),
            frozen(self.lower[idx]),
            frozen(self.upper[idx]),
            frozen(self.variance[idx]),
            frozen(self.cumulant3[idx]),
            frozen(self.history_hours[idx], np.int64),
            frozen(self.training[idx], np.bool_),
            frozen(self.tier[idx], np.int8),
            self.config,
        )

    def replace_rows(self, rows: npt.ArrayLike, other: BaselineResult) -> BaselineResult:
        """A copy whose series `rows` are taken from `other` (same horizon, len(rows) series)."""
        if other.horizon != self.horizon or other.start != self.start:
            raise ValueError("results cover different scopes")
        idx = np.asarray(rows)
        arrays = []
        for name in ("expected", "lower", "upper", "variance", "cumulant3", "tier"):
            a = np.array(getattr(self, name))
            a[idx] = getattr(other, name)
            arrays.append(a)
        e, lo, up, var, k3, tier = arrays
        return BaselineResult(
            self.start,
            frozen(e),
            frozen(lo),
            frozen(up),
            frozen(var),
            frozen(k3),
            self.history_hours,
            self.training,
            frozen(tier, np.int8),
            self.config,
        )


class SeriesInput:
    """Validated model input shared by both tiers: counts, window start and history starts."""

    def __init__(
        self,
        counts: npt.ArrayLike,
        *,
        start: int,
        history_start: npt.ArrayLike | None = None,
        config: BaselineConfig = DEFAULT_CONFIG,
    ) -> None:
        if not isinstance(config, BaselineConfig):
            raise TypeError(f"config must be a BaselineConfig, got {type(config).__name__}")
        data = np.asarray(counts, dtype=np.float64)
        if data.ndim != 2:
            raise ValueError(f"counts must be 2-D (series x hours), got shape {data.shape}")
        if data.shape[1] < 1:
            raise ValueError("counts must hold at least one hour")
        # two reductions, no temporary arrays: the input may be 100,000 x 1,080 values
        lowest, highest = float(data.min()), float(data.max())
        if not (math.isfinite(lowest) and math.isfinite(highest)):
            raise ValueError("counts must be finite (give missing history as history_start)")
        if lowest < 0:
            raise ValueError("counts must not be negative")
        if start % HOUR:
            raise ValueError(f"start {start} is not on the hour")
        n, hours = data.shape
        first = np.zeros(n, dtype=np.int64)
        if history_start is not None:
            hs = np.asarray(history_start, dtype=np.int64)
            if hs.shape != (n,):
                raise ValueError(
                    f"history_start must have one value per series ({n}), got shape {hs.shape}"
                )
            # the hour containing the first observation counts; earlier hours are missing
            first = np.clip((hs - hs % HOUR - start) // HOUR, 0, hours)
        self.counts = data
        self.start = start
        self.first = first  # index of each series' first hour of history in the window
        self.config = config

    @property
    def n_series(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_hours(self) -> int:
        return int(self.counts.shape[1])

    @property
    def end(self) -> int:
        return self.start + self.n_hours * HOUR

    @property
    def history_hours(self) -> Ints:
        return np.asarray(self.n_hours - self.first, dtype=np.int64)

    @property
    def training(self) -> Bools:
        return np.asarray(self.history_hours < self.config.min_training_days * 24)


def check_horizon(horizon: int) -> None:
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise ValueError(f"horizon must be a positive number of hours, got {horizon!r}")


class HourOfWeekModel(SeriesInput):
    """Robust hour-of-week statistics with empirical-Bayes shrinkage (see the module docstring).

    `counts[i, t]` is series i in the hour `start + t * 3600`; `history_start[i]` (epoch
    seconds, optional) is when series i was first observed. `fit(horizon)` gives expected values
    and bounds for the `horizon` hours that follow the window."""

    def fit(self, horizon: int) -> BaselineResult:
        check_horizon(horizon)
        n = self.n_series
        cfg = self.config
        out = {k: np.empty((n, horizon)) for k in ("expected", "variance", "cumulant3")}
        forecast_how = (hour_of_week(self.end) + np.arange(horizon)) % WEEK_HOURS
        for lo in range(0, n, cfg.chunk_series):
            hi = min(n, lo + cfg.chunk_series)
            block = fit_block(self.counts[lo:hi], self.first[lo:hi], hour_of_week(self.start), cfg)
            out["expected"][lo:hi] = block.expected[:, forecast_how]
            out["variance"][lo:hi] = block.variance[:, forecast_how]
            out["cumulant3"][lo:hi] = block.cumulant3[:, forecast_how]
        lower, upper = quantile_bounds(out["expected"], out["variance"], out["cumulant3"], cfg.z)
        history = self.history_hours
        tier = np.where(history > 0, TIER_NUMPY, TIER_NONE).astype(np.int8)
        return BaselineResult(
            self.end,
            frozen(out["expected"]),
            frozen(lower),
            frozen(upper),
            frozen(out["variance"]),
            frozen(out["cumulant3"]),
            frozen(history, np.int64),
            frozen(self.training, np.bool_),
            frozen(tier, np.int8),
            cfg,
        )
