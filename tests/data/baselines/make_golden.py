"""Regenerate the golden files of the baseline models (run from the repository root):

    .venv/bin/python -m tests.data.baselines.make_golden

Each JSON file holds fixed inputs (hourly counts of a 45-day window, its start, history starts,
the configuration) and the outputs the models gave for them when the file was written. The
inputs are stored, not regenerated, so the golden test does not depend on numpy's random
generators; only a deliberate change of the statistics should change the outputs, and then this
script is run again and the diff reviewed.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from baselines.config import BaselineConfig
from baselines.seasonal import fit_baselines

HERE = Path(__file__).parent
HOUR = 3600
# a Wednesday 10:00 UTC scope start: the window does not start on a week boundary
SCOPE_START = 1_745_402_400
DAYS = 45
WINDOW_START = SCOPE_START - DAYS * 24 * HOUR


def _week_shape(hours: np.ndarray, *, weekend: float, night: float) -> np.ndarray:
    how = (hours // HOUR + 72) % 168
    hod, dow = how % 24, how // 24
    day = np.where((hod >= 8) & (hod < 18), 1.0, night)
    return np.where(dow >= 5, day * weekend, day)


def _cases() -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(20250423)
    hours = WINDOW_START + HOUR * np.arange(DAYS * 24)
    office = _week_shape(hours, weekend=0.1, night=0.05)
    rows = {
        "office hours, 5/h": rng.poisson(5 * office),
        "office hours, 0.4/h (sparse)": rng.poisson(0.4 * office),
        "flat 40/h": rng.poisson(40, hours.size),
        "flat 40/h with three past spikes": rng.poisson(40, hours.size),
        "bytes: heavy-tailed": np.round(rng.gamma(0.5, 2e6, hours.size) * office),
        "10 days of history": rng.poisson(3 * office),
        "no history": np.zeros(hours.size, dtype=np.int64),
    }
    rows["flat 40/h with three past spikes"][[100, 101, 700]] += 2000
    first = {"10 days of history": SCOPE_START - 10 * 86_400, "no history": SCOPE_START + 1}
    trend = np.linspace(10, 40, hours.size) * _week_shape(hours, weekend=0.3, night=0.2)
    return {
        "hour_of_week": {
            "config": {"seasonal_tier": "never"},
            "series": rows,
            "history_start": [first.get(name, WINDOW_START) for name in rows],
        },
        "seasonal": {
            "config": {},
            "series": {
                "growing 10 to 40/h": rng.poisson(trend),
                "flat 30/h (stays in the numpy tier)": rng.poisson(30, hours.size),
            },
            "history_start": [WINDOW_START, WINDOW_START],
        },
    }


def _clean(a: np.ndarray) -> list[list[float | None]]:
    return [[None if math.isnan(x) else round(float(x), 9) for x in row] for row in a]


def compute(case: dict[str, Any]) -> dict[str, Any]:
    """Run the models on a case's inputs (also what the golden test calls)."""
    config = BaselineConfig(**case["config"])
    result = fit_baselines(
        np.array(case["counts"], dtype=np.float64),
        start=case["window_start"],
        horizon=case["horizon"],
        history_start=np.array(case["history_start"], dtype=np.int64),
        config=config,
    )
    window = result.window()
    return {
        "expected": _clean(result.expected),
        "lower": _clean(result.lower),
        "upper": _clean(result.upper),
        "scope_expected": _clean(window.expected[:, None]),
        "scope_upper": _clean(window.upper[:, None]),
        "training": result.training.tolist(),
        "tier": result.tier.tolist(),
    }


def main() -> None:
    for name, spec in _cases().items():
        case: dict[str, Any] = {
            "about": f"golden file of baselines ({name}); regenerate with make_golden.py",
            "window_start": WINDOW_START,
            "horizon": 24,
            "config": spec["config"],
            "config_resolved": asdict(BaselineConfig(**spec["config"])),
            "names": list(spec["series"]),
            "history_start": spec["history_start"],
            "counts": [np.asarray(v, dtype=np.int64).tolist() for v in spec["series"].values()],
        }
        case["outputs"] = compute(case)
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(case, indent=None, separators=(",", ":")) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
