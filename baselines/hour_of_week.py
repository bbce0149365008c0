"""The block statistics of the numpy tier: one vectorized pass over many series at once.

A block of series x hours is laid out as (series, hour of week, week), with NaN where the window
does not cover a week's hour or the series was not yet observed. Every statistic below is a
reduction over the last axis (the weeks) or over the 168 hours of the week, so the work per
series is a fixed number of numpy operations on arrays of the whole block.

The count model is negative binomial (variance = mean + d * mean^2) per hour of the week,
with one dispersion d per series. It covers API calls (d near 0: Poisson) and bytes
(d of order 1: the spread grows with the level) with the same formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from baselines.config import BaselineConfig
from graph.model import HOUR

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

WEEK_HOURS = 168
_EPOCH_HOW = 72  # 1970-01-01 00:00 UTC was a Thursday: 72 hours after Monday 00:00


def hour_of_week(ts: int) -> int:
    """0 = Monday 00:00-01:00 UTC ... 167 = Sunday 23:00."""
    return (ts // HOUR + _EPOCH_HOW) % WEEK_HOURS


@dataclass(frozen=True, slots=True, eq=False)
class BlockFit:
    """Per series and hour of the week: the predictive mean, variance and third cumulant."""

    expected: Floats  # (m, 168)
    variance: Floats
    cumulant3: Floats
    dispersion: Floats  # (m,)
    capped: Floats | None  # (m, hours) the winsorized input, NaN before the history; on request


def predictive_moments(
    mean: Floats, dispersion: Floats, estimation_var: Floats
) -> tuple[Floats, Floats]:
    """(variance, third cumulant) of a count whose mean is itself uncertain.

    Given the mean m, the count is negative binomial (variance m + d*m^2, third cumulant
    m(1+dm)(1+2dm)); the mean's own uncertainty e is gamma-shaped, which adds e to the variance
    and about 3e(1+2dm) + 2e^2/m to the third cumulant (the law of total cumulance; exact for
    the Poisson-gamma case d = 0)."""
    d = dispersion
    base = mean + d * mean * mean
    variance = base + estimation_var
    safe = np.where(mean > 0, mean, 1.0)
    gamma_term = np.where(mean > 0, 2.0 * estimation_var**2 / safe, 0.0)
    spread = 1.0 + 2.0 * d * mean
    cumulant3 = base * spread + 3.0 * estimation_var * spread + gamma_term
    return np.asarray(variance), np.asarray(cumulant3)


def _layout(counts: Floats, first: Ints, how0: int) -> Floats:
    """(m, weeks, 168) copy of the block: NaN outside the window and before each history."""
    m, hours = counts.shape
    weeks = -(-(how0 + hours) // WEEK_HOURS)
    grid = np.full((m, weeks * WEEK_HOURS), np.nan)
    inside = grid[:, how0 : how0 + hours]
    inside[...] = counts
    inside[np.arange(hours)[None, :] < first[:, None]] = np.nan
    return grid.reshape(m, weeks, WEEK_HOURS)


def _week_weights(how0: int, hours: int, weeks: int, half_life: float) -> Floats:
    """(weeks, 168) weight of each cell by its age: recent weeks count more."""
    col = np.arange(weeks * WEEK_HOURS)
    age_weeks = (how0 + hours - 1 - col) / WEEK_HOURS
    w = 0.5 ** (np.maximum(age_weeks, 0.0) / half_life)
    return np.asarray(w.reshape(weeks, WEEK_HOURS))


def _median(values: Floats, k: npt.NDArray[np.intp], axis: int) -> Floats:
    """Median along `axis` of the non-NaN values, `k` of them (NaN where there are none)."""
    ordered = np.sort(values, axis=axis)  # NaN sorts last
    lo = np.expand_dims(np.maximum((k - 1) // 2, 0), axis)
    hi = np.expand_dims(np.maximum(k // 2, 0), axis)
    a = np.take_along_axis(ordered, lo, axis=axis).squeeze(axis)
    b = np.take_along_axis(ordered, hi, axis=axis).squeeze(axis)
    return np.asarray(np.where(k > 0, 0.5 * (a + b), np.nan))


class _Moments:
    """Weighted sums over the weeks of each hour of the week (weights 0 where data is missing)."""

    def __init__(self, values: Floats, weights: Floats | None, total: Floats, keff: Floats):
        # values are 0 where missing, so unweighted sums need no mask
        wv = values if weights is None else weights * values
        self.sum = wv.sum(axis=1)
        self.sum_sq = (wv * values).sum(axis=1)
        has = total > 0
        self.has = has
        self.total = total
        self.keff = keff
        self.mean = np.where(has, self.sum / np.where(has, total, 1.0), np.nan)

    def dispersion(self, cap: float) -> Floats:
        """Per series: the method-of-moments d in variance = mean + d * mean^2, pooled over the
        hours of the week with at least two effective observations (their degrees of freedom)."""
        ok = self.keff > 1.5
        df = np.where(ok, self.keff - 1.0, 0.0)
        m = np.where(ok, self.mean, 0.0)
        # weighted sum of squared deviations from the mean: sum(w x^2) - mean * sum(w x)
        ss = np.maximum(self.sum_sq - m * self.sum, 0.0)
        s2 = np.where(ok, ss / np.where(ok, self.total, 1.0) * self.keff / np.where(ok, df, 1), 0)
        num = (df * (s2 - m)).sum(axis=1)
        den = (df * m * m).sum(axis=1)
        d = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        return np.asarray(np.clip(d, 0.0, cap))

    def robust_dispersion(self, cap: float) -> Floats:
        """Per series: the median over the hours of the week of each hour's own estimate of d.
        A few hours holding past spikes move a pooled estimate a lot and a median not at all;
        this one only sizes the outlier caps, where that matters most."""
        ok = (self.keff > 1.5) & (self.mean > 0)
        df = np.where(ok, self.keff - 1.0, 1.0)
        m = np.where(ok, self.mean, 1.0)
        ss = np.maximum(self.sum_sq - m * self.sum, 0.0)
        s2 = ss / np.where(ok, self.total, 1.0) * np.where(ok, self.keff, 1.0) / df
        each = np.where(ok, (s2 - m) / (m * m), np.nan)
        d = _median(each, ok.sum(axis=1), axis=1)  # NaN for a silent series: then 0
        return np.asarray(np.clip(np.nan_to_num(d), 0.0, cap))


def _prior(sums: Floats, totals: Floats) -> tuple[Floats, Floats]:
    """Hour-of-day x day-of-week estimate of every hour of the week, and how many
    observations stand behind it (those of its hour of the day)."""
    m = sums.shape[0]
    s = sums.reshape(m, 7, 24)
    k = totals.reshape(m, 7, 24)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = s.sum(axis=(1, 2)) / k.sum(axis=(1, 2))
        hod = s.sum(axis=1) / k.sum(axis=1)  # (m, 24)
        dow = s.sum(axis=2) / k.sum(axis=2)  # (m, 7)
        hod = np.where(np.isnan(hod), level[:, None], hod)
        dow = np.where(np.isnan(dow), level[:, None], dow)
        product = hod[:, None, :] * dow[:, :, None] / level[:, None, None]
    # a silent series (level 0) expects 0 everywhere; without history everything stays NaN
    product = np.where((level == 0)[:, None, None], 0.0, product)
    support = np.broadcast_to(k.sum(axis=1)[:, None, :], (m, 7, 24))
    return product.reshape(m, WEEK_HOURS), support.reshape(m, WEEK_HOURS)


def fit_block(
    counts: Floats,
    first: Ints,
    how0: int,
    config: BaselineConfig,
    *,
    keep_capped: bool = False,
) -> BlockFit:
    """Fit one block: `counts` (m, hours) from hour-of-week `how0`, history from `first`."""
    m, hours = counts.shape
    grid = _layout(counts, first, how0)
    valid = ~np.isnan(grid)
    filled = np.where(valid, grid, 0.0)
    weights: Floats | None = None
    if config.half_life_weeks is None:
        total = valid.sum(axis=1).astype(np.float64)
        keff = total
    else:
        weights = valid * _week_weights(how0, hours, grid.shape[1], config.half_life_weeks)
        total = weights.sum(axis=1)
        sq = (weights * weights).sum(axis=1)
        keff = np.where(total > 0, total * total / np.where(sq > 0, sq, 1.0), 0.0)

    # first pass: raw means and dispersion, only to size the outlier caps
    raw = _Moments(filled, weights, total, keff)
    d_raw = raw.robust_dispersion(config.max_dispersion)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = raw.sum.sum(axis=1) / total.sum(axis=1)
    median = _median(grid, valid.sum(axis=1), axis=1)
    ref = np.fmax(median, level[:, None])
    cap = median + config.winsor_z * np.sqrt(
        np.fmax(median, 0.0) + 1.0 + d_raw[:, None] * ref * ref
    )
    capped = np.fmin(filled, cap[:, None, :])  # fmin: hours without any data keep their 0

    # second pass on capped values: means, dispersion, prior and shrinkage
    mo = _Moments(capped, weights, total, keff)
    has, mean = mo.has, mo.mean
    d = mo.dispersion(config.max_dispersion)
    prior, support = _prior(mo.sum, total)
    sigma2 = prior + d[:, None] * prior * prior
    noise = np.where(has, sigma2 / np.where(has, keff, 1.0), np.inf)
    gap = np.where(has, (mean - prior) ** 2 - noise, 0.0)
    n_has = has.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # between-hour variance of the true means around the prior (empirical Bayes)
        tau2 = np.maximum(gap.sum(axis=1) / np.maximum(n_has, 1), 0.0)[:, None]
        scaled = config.shrinkage * noise
        weight = np.where(scaled > 0, tau2 / (tau2 + scaled), 1.0)
    weight = np.where(has, np.nan_to_num(weight, nan=1.0), 0.0)
    expected = np.where(has, weight * mean + (1.0 - weight) * prior, prior)
    prior_var = sigma2 / np.maximum(support, 1.0)
    estimation = np.where(
        has,
        weight * np.where(has, noise, 0.0) + (1.0 - weight) ** 2 * prior_var,
        tau2 + sigma2,  # an hour of the week never seen: the prior and its whole spread
    )
    variance, cumulant3 = predictive_moments(expected, d[:, None], estimation)
    kept = None
    if keep_capped:
        flat = np.where(valid, capped, np.nan).reshape(m, -1)
        kept = np.ascontiguousarray(flat[:, how0 : how0 + hours])
    return BlockFit(expected, variance, cumulant3, d, kept)
