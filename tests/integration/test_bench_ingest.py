"""bench.ingest end to end on a tiny workload: it must keep running and measuring what it says
(the figures themselves come from full runs, never from tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_ingest_benchmark_runs_and_loads_every_record(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    args = ["--events", "3000", "--accounts", "2", "--days", "2", "--workdir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", *args, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # exit 1 is a missed target, which a tiny workload on a test machine may well print
    assert done.returncode in (0, 1), done.stderr
    r = json.loads(out.read_text())
    assert r["checks"]["every record loaded"] is True
    events = r["workload"]["events"]
    assert events > 2000
    assert r["ingest"]["loaded"] == r["decode_typed"]["events"] == events
    # the decode-only baseline brackets the ingest: two halves, every file once
    halves = r["decode_only"]["halves_events_per_s"]
    assert len(halves) == 2 and all(h > 0 for h in halves)
    assert r["decode_only"]["events"] == events
    ratio = r["ingest"]["events_per_s"] / r["decode_only"]["events_per_s"]
    assert abs(r["ratio_ingest_to_decode"] - ratio) < 1e-9
    assert set(r["ingest"]["stage_cpu_seconds"]) >= {"read_decode_stage", "expand", "store_write"}
    assert "(decode-only" in done.stdout and "before the ingest" in done.stdout
