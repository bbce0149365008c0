"""Speed of the numpy tier: expected values for 100,000 series of 45 days x 24 hours, one core.

Issue 7's target is 30 s. The series are Poisson counts with heavy-tailed rates (log-normal) and
the office-hours, CI and flat weekly profiles of bench.workload in several time zones; 5 % start
inside the window (missing history). Generating them is not timed; the timed part is exactly
what the API runs: `HourOfWeekModel(counts, ...).fit(horizon)` (input validation included).
The process is pinned to one CPU and BLAS threads are set to one before numpy is imported.
With `--auto` it also times `fit_baselines`, which sends up to `max_seasonal_series` trending
series to the statsmodels tier (none are trending here, so this mostly measures the rule).

    python -m bench.baselines_perf [--series 100000] [--horizon 24] [--auto]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402  (the thread settings must come before numpy)
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402

from baselines.config import BaselineConfig  # noqa: E402
from baselines.expected import HourOfWeekModel  # noqa: E402
from baselines.seasonal import fit_baselines  # noqa: E402
from bench.workload import DEFAULT_START, hourly_factor  # noqa: E402

HOUR = 3600
TARGET_SECONDS = 30.0
WINDOW_HOURS = 45 * 24


def make_counts(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(counts float64 (n, 1080), history starts, window start), generated in blocks."""
    start = int(DEFAULT_START.timestamp())
    hours = start + HOUR * np.arange(WINDOW_HOURS)
    shapes = np.vstack(
        [
            hourly_factor(profile, tz, hours)
            for profile in ("human", "ci", "flat")
            for tz in (-8, -5, 0, 1, 5.5, 9)
        ]
    )
    rng = np.random.default_rng(seed)
    shape_of = rng.integers(0, shapes.shape[0], n)
    rate = np.exp(rng.normal(0.0, 1.8, n))
    counts = np.empty((n, WINDOW_HOURS))
    for lo in range(0, n, 10_000):
        hi = min(n, lo + 10_000)
        counts[lo:hi] = rng.poisson(rate[lo:hi, None] * shapes[shape_of[lo:hi]])
    late = rng.random(n) < 0.05
    first = np.where(late, start + HOUR * rng.integers(0, WINDOW_HOURS, n), start)
    return counts, first.astype(np.int64), start


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.baselines_perf", description=__doc__)
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--horizon", type=int, default=24, help="scope hours to forecast")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="report the best of N runs")
    ap.add_argument("--auto", action="store_true", help="also time fit_baselines (both tiers)")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    config = BaselineConfig()
    began = time.perf_counter()
    counts, first, start = make_counts(args.series, args.seed)
    print(
        f"{args.series:,} series x {WINDOW_HOURS} hours generated in "
        f"{time.perf_counter() - began:.1f} s; block size {config.chunk_series}, one CPU"
    )
    best = float("inf")
    for _ in range(args.repeat):
        began = time.perf_counter()
        result = HourOfWeekModel(counts, start=start, history_start=first, config=config).fit(
            args.horizon
        )
        best = min(best, time.perf_counter() - began)
    assert result.expected.shape == (args.series, args.horizon)
    assert np.isfinite(result.upper).all()
    # the target is stated for 100,000 series; scale a smaller (or larger) run to it
    scaled = best * 100_000 / args.series
    ok = scaled <= TARGET_SECONDS
    print(
        f"numpy tier: {best:.2f} s for {args.series:,} series "
        f"({1e6 * best / args.series:.0f} us per series; {scaled:.2f} s per 100,000) "
        f"horizon {args.horizon} h; target {TARGET_SECONDS:.0f} s per 100,000: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    if args.auto:
        began = time.perf_counter()
        mixed = fit_baselines(
            counts, start=start, horizon=args.horizon, history_start=first, config=config
        )
        seasonal = int((mixed.tier == 2).sum())
        print(
            f"both tiers (fit_baselines): {time.perf_counter() - began:.2f} s, "
            f"{seasonal} series in the statsmodels tier"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
