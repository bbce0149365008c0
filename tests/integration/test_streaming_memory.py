"""Streaming: a load's peak memory does not grow with the size of its input."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from bench.workload import generate

GUMSHOE = str(Path(sys.executable).with_name("gumshoe"))


def _peak_rss_mb(inputs: Path, store: Path) -> float:
    """Peak RSS of a `gumshoe load` child (ru_maxrss of the waited-for child, in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [GUMSHOE, "load", "--store", f"sqlite://{store}", "--batch-events", "5000", str(inputs)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # RUSAGE_CHILDREN keeps the maximum over all children: only a new maximum is visible, so
    # the small load runs first and the large one must not raise it by more than the margin.
    return max(before, after) / 1024


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_input(tmp_path: Path) -> None:
    small = generate(tmp_path / "small", accounts=4, days=1, events=20_000, seed=5)
    large = generate(tmp_path / "large", accounts=4, days=8, events=160_000, seed=5)
    assert large.events > 7 * small.events
    rss_small = _peak_rss_mb(tmp_path / "small", tmp_path / "small.db")
    rss_large = _peak_rss_mb(tmp_path / "large", tmp_path / "large.db")
    # 8x the events (and 8x the hours, principals' sessions and files): the peak stays put
    assert rss_large - rss_small < 40, (rss_small, rss_large)
