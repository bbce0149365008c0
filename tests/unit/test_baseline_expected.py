"""The numpy tier: configuration, statistics, calibration, robustness, vectorization."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats  # type: ignore[import-untyped]

from baselines.config import BaselineConfig
from baselines.expected import (
    TIER_NONE,
    TIER_NUMPY,
    HourOfWeekModel,
    quantile_bounds,
)
from baselines.hour_of_week import hour_of_week
from tests.conftest import DATA

H = 3600
DAY = 86_400
MONDAY = 1_741_564_800  # 2025-03-10 00:00 UTC, a Monday
WINDOW = 45 * 24


def office(hours: np.ndarray) -> np.ndarray:
    """Busy 08-18 UTC on weekdays, a tenth of that on weekends, 5 % at night."""
    how = (hours // H + 72) % 168
    hod, dow = how % 24, how // 24
    day = np.where((hod >= 8) & (hod < 18), 1.0, 0.05)
    return np.asarray(np.where(dow >= 5, day * 0.1, day))


def poisson(
    n: int, rate: float, seed: int, *, hours: int = WINDOW + 24 * 7, start: int = MONDAY
) -> tuple[np.ndarray, np.ndarray]:
    ts = start + H * np.arange(hours)
    lam = np.tile(rate * office(ts), (n, 1))
    return np.random.default_rng(seed).poisson(lam).astype(np.float64), lam


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("baseline_days", 0, "baseline_days must be a positive int"),
        ("baseline_days", 4.5, "baseline_days must be a positive int"),
        ("min_training_days", 50, "min_training_days must be between 0 and baseline_days"),
        ("min_training_days", -1, "min_training_days must be between 0 and baseline_days"),
        ("tail_probability", 0.0, r"tail_probability must be in \(0, 0.5\)"),
        ("tail_probability", 0.7, r"tail_probability must be in \(0, 0.5\)"),
        ("shrinkage", -1.0, "shrinkage must not be negative"),
        ("shrinkage", math.nan, "shrinkage must be a finite number"),
        ("winsor_z", 0, "winsor_z must be positive"),
        ("half_life_weeks", 0.0, "half_life_weeks must be positive"),
        ("seasonal_tier", "sometimes", "seasonal_tier must be one of"),
        ("seasonal_min_history_days", 10, "at least 14"),
        ("max_seasonal_series", -1, "max_seasonal_series must be a non-negative int"),
        ("chunk_series", 0, "chunk_series must be a positive int"),
        ("min_increased_calls", -2, "min_increased_calls must be a non-negative int"),
        ("max_dispersion", math.inf, "max_dispersion must be a finite number"),
    ],
)
def test_bad_configuration_fails_where_it_is_written(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BaselineConfig(**{field: value})


def test_configuration_is_frozen_and_hashable() -> None:
    config = BaselineConfig()
    assert config.z == pytest.approx(stats.norm.isf(config.tail_probability))
    assert hash(config) == hash(BaselineConfig())
    with pytest.raises(AttributeError):
        config.baseline_days = 30  # type: ignore[misc]


@pytest.mark.parametrize(
    ("counts", "kwargs", "message"),
    [
        (np.zeros(10), {}, "counts must be 2-D"),
        (np.zeros((2, 0)), {}, "at least one hour"),
        (-np.ones((1, 5)), {}, "must not be negative"),
        (np.full((1, 5), np.nan), {}, "must be finite"),
        (np.zeros((1, 5)), {"start": MONDAY + 1}, "not on the hour"),
        (np.zeros((2, 5)), {"history_start": [0]}, "one value per series"),
    ],
)
def test_bad_input_is_rejected(counts: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HourOfWeekModel(counts, **{"start": MONDAY, **kwargs})


def test_bad_horizon_is_rejected() -> None:
    with pytest.raises(ValueError, match="horizon"):
        HourOfWeekModel(np.zeros((1, 5)), start=MONDAY).fit(0)


# -- statistics -----------------------------------------------------------------------------------


def test_hour_of_week_starts_on_monday_utc() -> None:
    assert hour_of_week(MONDAY) == 0
    assert hour_of_week(MONDAY + 25 * H + 59) == 25
    assert hour_of_week(MONDAY - H) == 167


def test_a_constant_series_expects_its_constant() -> None:
    result = HourOfWeekModel(np.full((1, WINDOW), 7.0), start=MONDAY).fit(48)
    np.testing.assert_allclose(result.expected, 7.0)
    assert np.all(result.lower < 7.0) and np.all(result.upper > 7.0)
    assert result.start == MONDAY + WINDOW * H and result.hours[1] == result.start + H


def test_the_weekly_pattern_is_recovered_at_the_right_hours() -> None:
    counts, lam = poisson(200, 20.0, seed=1)
    # the scope starts a week after the window: forecast hours must line up with the weekdays
    result = HourOfWeekModel(counts[:, :WINDOW], start=MONDAY).fit(24 * 7)
    mean_expected = result.expected.mean(axis=0)
    np.testing.assert_allclose(mean_expected, lam[0, WINDOW:], rtol=0.05, atol=0.15)
    assert mean_expected[10] > 15 * mean_expected[2]  # Monday 10:00 vs 02:00


def test_bounds_are_calibrated_on_poisson_counts() -> None:
    config = BaselineConfig(tail_probability=0.001)
    counts, _ = poisson(3000, 3.0, seed=2)
    result = HourOfWeekModel(counts[:, :WINDOW], start=MONDAY, config=config).fit(168)
    scope = counts[:, WINDOW:]
    above = result.exceeds(scope).mean()
    below = (scope < result.lower).mean()
    # conservative but not useless: within a factor of three of the nominal rate, either way
    assert 0.0001 < above < 0.003
    assert below < 0.003


@pytest.mark.parametrize("mean", [0.01, 0.3, 1.0, 4.0, 25.0, 300.0])
def test_cornish_fisher_bound_holds_against_exact_poisson_tails(mean: float) -> None:
    z = stats.norm.isf(0.001)
    lam = np.array([mean])
    lower, upper = quantile_bounds(lam, lam, lam, z)  # Poisson: variance = k3 = mean
    assert stats.poisson.sf(np.floor(upper[0]), mean) <= 0.002
    assert lower[0] <= mean <= upper[0]
    if lower[0] > 0:
        assert stats.poisson.cdf(np.ceil(lower[0]) - 1, mean) <= 0.002


def test_past_spikes_barely_move_the_expectation() -> None:
    counts, _ = poisson(1, 30.0, seed=3, hours=WINDOW)
    clean = HourOfWeekModel(counts, start=MONDAY).fit(168)
    spiked = counts.copy()
    spiked[0, [10, 11, 12 + 168 * 2]] += 5000
    dirty = HourOfWeekModel(spiked, start=MONDAY).fit(168)
    how = [10, 11, 12]
    # the plain mean of six weeks would rise by 5000 / 6 = 833 at those hours
    assert np.all(dirty.expected[0, how] - clean.expected[0, how] < 10)
    assert np.max(dirty.upper / clean.upper) < 1.3


def test_shrinkage_pools_a_sparse_series() -> None:
    # six calls in 45 days at 09:00 or 10:00 on weekdays: each hour of the week holds at most
    # one; the pooled estimate lends rate to the same hours of the other weekdays
    counts = np.zeros((1, WINDOW))
    for day, hour in ((0, 9), (1, 10), (9, 9), (10, 10), (18, 9), (21, 10)):
        counts[0, day * 24 + hour] = 1
    pooled = HourOfWeekModel(counts, start=MONDAY).fit(168)
    raw = HourOfWeekModel(counts, start=MONDAY, config=BaselineConfig(shrinkage=0.0)).fit(168)

    def at(day: int, hour: int) -> int:  # scope index of a weekday hour (scope starts Thursday)
        return (day * 24 + hour - hour_of_week(pooled.start)) % 168

    assert raw.expected[0, at(0, 9)] == pytest.approx(1 / 7)  # one of seven Mondays
    assert raw.expected[0, at(1, 9)] == 0  # never on Tuesday 09:00
    assert 0 < pooled.expected[0, at(1, 9)] < raw.expected[0, at(0, 9)]
    assert pooled.expected[0, at(0, 9)] < raw.expected[0, at(0, 9)]
    assert pooled.expected[0, at(0, 3)] == 0  # never at 03:00: nothing to borrow
    # either way one call is no news and a handful is
    assert pooled.upper[0].min() > 1 and pooled.upper[0].max() < 4
    assert pooled.exceeds(np.full((1, 168), 4.0)).all()


def test_missing_history_is_missing_not_zero() -> None:
    counts = np.full((2, WINDOW), 10.0)
    counts[1, : WINDOW - 20 * 24] = 0  # not observed yet: zeros in the window
    first = [MONDAY, MONDAY + (WINDOW - 20 * 24) * H]
    result = HourOfWeekModel(counts, start=MONDAY, history_start=first).fit(24)
    np.testing.assert_allclose(result.expected, 10.0)
    assert list(result.history_hours) == [WINDOW, 20 * 24]


def test_training_and_no_history() -> None:
    counts = np.ones((3, WINDOW))
    end = MONDAY + WINDOW * H
    first = [end - 20 * DAY, end - 10 * DAY, end + H]
    result = HourOfWeekModel(counts, start=MONDAY, history_start=first).fit(24)
    assert result.training.tolist() == [False, True, True]
    assert result.tier.tolist() == [TIER_NUMPY, TIER_NUMPY, TIER_NONE]
    assert np.isnan(result.expected[2]).all() and np.isnan(result.upper[2]).all()
    assert not result.exceeds(np.full((3, 24), 1e9))[2].any()


def test_a_silent_series_flags_a_burst_but_not_one_call() -> None:
    result = HourOfWeekModel(np.zeros((1, WINDOW)), start=MONDAY).fit(24)
    assert np.all(result.expected == 0)
    assert result.exceeds(np.full((1, 24), 1.0)).sum() == 0
    assert result.exceeds(np.full((1, 24), 5.0)).all()


def test_recent_weeks_count_more_with_a_half_life() -> None:
    counts = np.full((1, WINDOW), 10.0)
    counts[0, -14 * 24 :] = 30.0  # the level rose two weeks ago
    equal = HourOfWeekModel(counts, start=MONDAY).fit(24).expected.mean()
    recent = (
        HourOfWeekModel(counts, start=MONDAY, config=BaselineConfig(half_life_weeks=1.0))
        .fit(24)
        .expected.mean()
    )
    assert equal < recent < 30


def test_scope_totals_have_bounds_of_their_own() -> None:
    counts, _ = poisson(1, 10.0, seed=4, hours=WINDOW)
    result = HourOfWeekModel(counts, start=MONDAY).fit(24)
    total = result.window()
    assert total.expected[0] == pytest.approx(result.expected.sum())
    assert total.upper[0] < result.upper.sum()  # not the sum of hourly bounds
    assert total.upper[0] > total.expected[0] > total.lower[0]
    part = result.window(slice(0, 3))
    assert part.expected[0] == pytest.approx(result.expected[0, :3].sum())


def test_results_are_immutable() -> None:
    result = HourOfWeekModel(np.ones((2, WINDOW)), start=MONDAY).fit(24)
    with pytest.raises(ValueError, match="read-only"):
        result.expected[0, 0] = 1.0
    with pytest.raises(AttributeError):
        result.start = 0  # type: ignore[misc]
    picked = result.select([1])
    assert picked.n_series == 1 and not picked.upper.flags.writeable


# -- vectorization --------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    chunk=st.integers(1, 5),
    how0=st.integers(0, 167),
)
def test_each_series_is_fitted_as_if_alone(seed: int, n: int, chunk: int, how0: int) -> None:
    rng = np.random.default_rng(seed)
    hours = int(rng.integers(24, 400))
    counts = rng.poisson(rng.gamma(1.0, 3.0, (n, 1)), (n, hours)).astype(np.float64)
    start = MONDAY + how0 * H
    first = start + H * rng.integers(0, hours + 5, n)
    config = BaselineConfig(chunk_series=chunk)
    together = HourOfWeekModel(counts, start=start, history_start=first, config=config).fit(30)
    for i in range(n):
        alone = HourOfWeekModel(counts[i : i + 1], start=start, history_start=first[i : i + 1])
        one = alone.fit(30)
        np.testing.assert_allclose(together.expected[i], one.expected[0], rtol=1e-12)
        np.testing.assert_allclose(together.upper[i], one.upper[0], rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), weeks=st.integers(-3, 3))
def test_moving_the_window_by_whole_weeks_changes_nothing(seed: int, weeks: int) -> None:
    counts = np.random.default_rng(seed).poisson(4.0, (3, 500)).astype(np.float64)
    a = HourOfWeekModel(counts, start=MONDAY + 5 * H).fit(24)
    b = HourOfWeekModel(counts, start=MONDAY + 5 * H + weeks * 168 * H).fit(24)
    np.testing.assert_array_equal(a.expected, b.expected)


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.lists(st.integers(0, 10_000), min_size=1, max_size=300), min_size=1, max_size=4
    ),
    how0=st.integers(0, 167),
)
def test_bounds_bracket_the_expectation(data: list[list[int]], how0: int) -> None:
    width = min(len(row) for row in data)
    counts = np.array([row[:width] for row in data], dtype=np.float64)
    result = HourOfWeekModel(counts, start=MONDAY + how0 * H).fit(12)
    assert np.all(np.isfinite(result.expected))
    assert np.all(result.lower >= 0)
    assert np.all(result.lower <= result.expected + 1e-9)
    assert np.all(result.expected <= result.upper)


# -- golden files ---------------------------------------------------------------------------------

GOLDEN = DATA / "baselines"


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: Path(p).stem)
def test_golden_files(path: Path) -> None:
    from tests.data.baselines.make_golden import compute

    case = json.loads(path.read_text())
    assert case["config_resolved"] == {
        **case["config_resolved"],
        **case["config"],
    }, "golden file config"
    got = compute(case)
    want = case["outputs"]
    assert got["training"] == want["training"]
    assert got["tier"] == want["tier"]
    for key in ("expected", "lower", "upper", "scope_expected", "scope_upper"):
        a = np.array(got[key], dtype=np.float64)
        b = np.array(want[key], dtype=np.float64)
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-7, equal_nan=True, err_msg=key)
