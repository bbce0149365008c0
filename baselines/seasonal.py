"""The statsmodels tier (MSTL) for series whose level moves, and the choice between tiers.

The numpy tier (baselines.expected) averages each hour of the week over the whole window, so a
series that grew or shrank during the 45 days gets an expectation that lags behind it: a service
that doubled its traffic a month ago would be flagged every busy hour. For those series a
decomposition into trend + daily season + weekly season (statsmodels MSTL, periods 24 and 168)
follows the level: the history is rescaled to the level at the end of the window before the
hour-of-week statistics are taken, and the forecast extends the trend (damped).

When a series goes to this tier (`seasonal_tier="auto"`, the default): it has at least
`seasonal_min_history_days` of history (MSTL needs two weekly periods; three make its weekly
season stable), an average of at least `seasonal_min_mean` per hour (a decomposition of a sparse
count is noise), and its first and last weeks of history differ by at least `trend_threshold`
(relative). At most `max_seasonal_series` series of one fit go there, the busiest first: a fit
costs about 20-60 ms against the numpy tier's 0.1 ms. `"always"` sends every series with two
weeks of history; `"never"` keeps everything in the numpy tier.

Both tiers return the same `BaselineResult`; `fit_baselines` runs the numpy tier on everything and
replaces the rows the rule selects.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from statsmodels.tsa.seasonal import MSTL

from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.expected import (
    TIER_NONE,
    TIER_SEASONAL,
    BaselineResult,
    Bools,
    Floats,
    HourOfWeekModel,
    SeriesInput,
    check_horizon,
    frozen,
    quantile_bounds,
)
from baselines.hour_of_week import WEEK_HOURS, fit_block, hour_of_week
from graph.model import HOUR

# The STL inner smoothers are evaluated every 5 points and interpolated: about 5x faster, and
# indistinguishable on hourly counts (statsmodels' own speed-up; see notes/ecosystem.md, sec. 7).
_JUMPS = {"seasonal_jump": 5, "trend_jump": 5, "low_pass_jump": 5}
# per-hour damping of the extrapolated trend: its slope fades with a half-life of about 34 hours,
# so a long scope is not forecast to grow without end
_DAMPING = 0.98
_MIN_HOURS = 2 * WEEK_HOURS
# history is rescaled by at most this factor either way: beyond it the old weeks say little
# about the shape of the new level
_MAX_RESCALE = 8.0


def trend_change(data: SeriesInput) -> Floats:
    """|log| ratio of the last week's mean to the first week's (of each series' history);
    0 for series with less than two weeks of history."""
    counts, first, n_hours = data.counts, data.first, data.n_hours
    cum = np.concatenate([np.zeros((data.n_series, 1)), np.cumsum(counts, axis=1)], axis=1)
    rows = np.arange(data.n_series)
    enough = n_hours - first >= _MIN_HOURS
    head_end = np.minimum(first + WEEK_HOURS, n_hours)
    head = (cum[rows, head_end] - cum[rows, first]) / WEEK_HOURS
    tail = (cum[:, n_hours] - cum[:, n_hours - WEEK_HOURS]) / WEEK_HOURS
    return np.where(enough, np.abs(np.log((tail + 1.0) / (head + 1.0))), 0.0)


def select_seasonal(data: SeriesInput) -> npt.NDArray[np.intp]:
    """Indexes of the series the statsmodels tier fits, busiest first (see the module doc)."""
    cfg = data.config
    if cfg.seasonal_tier == "never" or cfg.max_seasonal_series == 0:
        return np.zeros(0, dtype=np.intp)
    history = data.history_hours
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(history > 0, data.counts.sum(axis=1) / np.maximum(history, 1), 0.0)
    chosen: Bools = history >= _MIN_HOURS
    if cfg.seasonal_tier == "auto":
        chosen = (
            chosen
            & (history >= cfg.seasonal_min_history_days * 24)
            & (mean >= cfg.seasonal_min_mean)
            & (trend_change(data) >= np.log1p(cfg.trend_threshold))
        )
    idx = np.flatnonzero(chosen)
    busiest = idx[np.argsort(-mean[idx], kind="stable")]
    return np.sort(busiest[: cfg.max_seasonal_series])


class SeasonalModel(SeriesInput):
    """Trend from MSTL, weekly profile from the hour-of-week statistics of the level-adjusted
    history.

    MSTL's own seasonal components are additive, while activity is multiplicative (a quiet
    weekend is a fraction of a busy week, whatever the level), so only its trend is used: every
    past hour is rescaled by (trend at the end of the window / trend then), the robust
    hour-of-week fit runs on the rescaled history (vectorized, as in the numpy tier), and the
    forecast multiplies it by the damped extrapolation of the trend. MSTL runs on the numpy
    tier's capped values, so past spikes do not bend the trend. Series with less than two weeks
    of history keep the numpy tier's answer."""

    def fit(self, horizon: int) -> BaselineResult:
        check_horizon(horizon)
        cfg = self.config
        how0 = hour_of_week(self.start)
        fallback = HourOfWeekModel(
            self.counts, start=self.start, history_start=self._history_epochs(), config=cfg
        ).fit(horizon)
        capped = fit_block(self.counts, self.first, how0, cfg, keep_capped=True).capped
        assert capped is not None
        scale = np.ones_like(self.counts)
        growth = np.ones((self.n_series, horizon))
        fitted = np.zeros(self.n_series, dtype=bool)
        for i in range(self.n_series):
            series = capped[i, self.first[i] :]
            if series.size < _MIN_HOURS:
                continue
            scale[i, self.first[i] :], growth[i] = _trend_factors(series, horizon)
            fitted[i] = True
        block = fit_block(self.counts * scale, self.first, how0, cfg)
        how = (hour_of_week(self.end) + np.arange(horizon)) % WEEK_HOURS
        expected = np.where(fitted[:, None], block.expected[:, how] * growth, fallback.expected)
        variance = np.where(fitted[:, None], block.variance[:, how] * growth**2, fallback.variance)
        cumulant3 = np.where(
            fitted[:, None], block.cumulant3[:, how] * growth**3, fallback.cumulant3
        )
        lower, upper = quantile_bounds(expected, variance, cumulant3, cfg.z)
        tier = np.where(fitted, TIER_SEASONAL, fallback.tier)
        return BaselineResult(
            self.end,
            frozen(expected),
            frozen(lower),
            frozen(upper),
            frozen(variance),
            frozen(cumulant3),
            fallback.history_hours,
            fallback.training,
            frozen(np.where(self.history_hours > 0, tier, TIER_NONE), np.int8),
            cfg,
        )

    def _history_epochs(self) -> npt.NDArray[np.int64]:
        return np.asarray(self.start + self.first * HOUR, dtype=np.int64)


def _trend_factors(series: Floats, horizon: int) -> tuple[Floats, Floats]:
    """(factor bringing each past hour to the level at the end of the window, factor of each
    scope hour relative to that level) from the MSTL trend of `series`."""
    with warnings.catch_warnings():
        # LOESS on flat stretches of counts may warn about ill-conditioned fits; the trend is
        # still the one we want, and the test suite turns warnings into errors
        warnings.simplefilter("ignore")
        res = MSTL(series, periods=(24, WEEK_HOURS), iterate=1, stl_kwargs=_JUMPS).fit()
    trend = np.asarray(res.trend, dtype=np.float64)
    # a trend near 0 (a series that started almost silent) would blow the rescaling up
    floor = max(float(series.mean()) * 0.05, 1e-9)
    trend = np.maximum(trend, floor)
    end = trend[-1]
    scale = np.clip(end / trend, 1.0 / _MAX_RESCALE, _MAX_RESCALE)
    steps = np.arange(1, horizon + 1)
    slope = (trend[-1] - trend[-25]) / 24.0
    drift = slope * _DAMPING * (1.0 - _DAMPING**steps) / (1.0 - _DAMPING)
    growth = np.clip((end + drift) / end, 1.0 / _MAX_RESCALE, _MAX_RESCALE)
    return scale, growth


def fit_baselines(
    counts: npt.ArrayLike,
    *,
    start: int,
    horizon: int,
    history_start: npt.ArrayLike | None = None,
    config: BaselineConfig = DEFAULT_CONFIG,
) -> BaselineResult:
    """Expected values and bounds of `horizon` hours after the window: the numpy tier for every
    series, the statsmodels tier for those `select_seasonal` picks. `counts` is (series x hours)
    from `start`; `history_start` (epoch seconds per series) marks earlier hours as missing."""
    model = HourOfWeekModel(counts, start=start, history_start=history_start, config=config)
    result = model.fit(horizon)
    rows = select_seasonal(model)
    if rows.size == 0:
        return result
    seasonal = SeasonalModel(
        model.counts[rows],
        start=start,
        history_start=model.start + model.first[rows] * HOUR,
        config=config,
    ).fit(horizon)
    return result.replace_rows(rows, seasonal)
