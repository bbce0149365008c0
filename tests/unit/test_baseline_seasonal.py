"""The statsmodels tier: when it is used, and that it follows a moving level."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.config import BaselineConfig
from baselines.expected import TIER_NONE, TIER_NUMPY, TIER_SEASONAL, HourOfWeekModel
from baselines.seasonal import SeasonalModel, fit_baselines, select_seasonal, trend_change

H = 3600
MONDAY = 1_741_564_800
WINDOW = 45 * 24


def shape(hours: np.ndarray) -> np.ndarray:
    how = (hours // H + 72) % 168
    hod, dow = how % 24, how // 24
    day = np.where((hod >= 8) & (hod < 18), 1.0, 0.2)
    return np.asarray(np.where(dow >= 5, day * 0.3, day))


def growing(n: int, seed: int, *, low: float = 10, high: float = 40) -> tuple[np.ndarray, ...]:
    ts = MONDAY + H * np.arange(WINDOW + 24)
    lam = np.linspace(low, high, ts.size) * shape(ts)
    counts = np.random.default_rng(seed).poisson(np.tile(lam, (n, 1))).astype(np.float64)
    return counts[:, :WINDOW], counts[:, WINDOW:], lam[WINDOW:]


def test_the_rule_sends_only_moving_busy_series_with_history() -> None:
    trending, _, _ = growing(1, seed=1)
    flat = np.random.default_rng(2).poisson(20.0, (1, WINDOW)).astype(np.float64)
    sparse = growing(1, seed=3, low=0.05, high=0.5)[0]
    counts = np.vstack([trending, flat, sparse, trending])
    young = MONDAY + (WINDOW - 15 * 24) * H  # 15 days of history: not enough for "auto"
    first = [MONDAY, MONDAY, MONDAY, young]
    model = HourOfWeekModel(counts, start=MONDAY, history_start=first)
    assert select_seasonal(model).tolist() == [0]
    assert trend_change(model)[0] > np.log(2) > trend_change(model)[1]
    always = HourOfWeekModel(
        counts, start=MONDAY, history_start=first, config=BaselineConfig(seasonal_tier="always")
    )
    assert select_seasonal(always).tolist() == [0, 1, 2, 3]
    never = HourOfWeekModel(counts, start=MONDAY, config=BaselineConfig(seasonal_tier="never"))
    assert select_seasonal(never).size == 0


def test_the_busiest_go_first_when_capped() -> None:
    a, _, _ = growing(1, seed=4, low=5, high=15)
    b, _, _ = growing(1, seed=5, low=50, high=150)
    model = HourOfWeekModel(
        np.vstack([a, b]), start=MONDAY, config=BaselineConfig(max_seasonal_series=1)
    )
    assert select_seasonal(model).tolist() == [1]


def test_a_growing_series_is_followed_where_the_weekly_average_lags() -> None:
    window, scope, truth = growing(20, seed=6)
    numpy_tier = HourOfWeekModel(window, start=MONDAY).fit(24)
    mixed = fit_baselines(window, start=MONDAY, horizon=24)
    assert set(mixed.tier.tolist()) == {TIER_SEASONAL}
    err_numpy = np.abs(numpy_tier.expected.mean(axis=0) - truth).mean()
    err_seasonal = np.abs(mixed.expected.mean(axis=0) - truth).mean()
    assert err_seasonal < err_numpy / 3
    assert mixed.exceeds(scope).sum() <= 1
    assert np.all(mixed.lower <= mixed.expected) and np.all(mixed.expected <= mixed.upper)


def test_results_keep_their_shape_and_facts() -> None:
    window, _, _ = growing(2, seed=7)
    flat = np.random.default_rng(8).poisson(20.0, (1, WINDOW)).astype(np.float64)
    counts = np.vstack([window, flat, np.zeros((1, WINDOW))])
    first = [MONDAY, MONDAY, MONDAY, MONDAY + WINDOW * H]
    result = fit_baselines(counts, start=MONDAY, horizon=30, history_start=first)
    assert result.expected.shape == (4, 30)
    assert result.tier.tolist() == [TIER_SEASONAL, TIER_SEASONAL, TIER_NUMPY, TIER_NONE]
    assert result.training.tolist() == [False, False, False, True]
    assert not result.expected.flags.writeable


def test_short_histories_keep_the_numpy_answer() -> None:
    counts = np.random.default_rng(9).poisson(10.0, (1, WINDOW)).astype(np.float64)
    first = [MONDAY + (WINDOW - 10 * 24) * H]
    seasonal = SeasonalModel(counts, start=MONDAY, history_start=first).fit(24)
    plain = HourOfWeekModel(counts, start=MONDAY, history_start=first).fit(24)
    assert seasonal.tier.tolist() == [TIER_NUMPY]
    np.testing.assert_array_equal(seasonal.expected, plain.expected)


def test_replacing_rows_needs_the_same_scope() -> None:
    counts = np.ones((2, WINDOW))
    a = HourOfWeekModel(counts, start=MONDAY).fit(24)
    b = HourOfWeekModel(counts[:1], start=MONDAY).fit(12)
    with pytest.raises(ValueError, match="different scopes"):
        a.replace_rows([0], b)
