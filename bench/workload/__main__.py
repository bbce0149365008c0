"""`python -m bench.workload OUT_DIR ...`: generate a workload from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bench import workload
from bench.workload.seasonality import DEFAULT_START
from bench.workload.truth import random_anomalies
from bench.workload.world import TRUTH_FILE, generate, principals


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.workload",
        description=workload.__doc__.split("\n\n")[0] if workload.__doc__ else None,
    )
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--events", type=int, default=None, help="approximate total (scales rates)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", default=DEFAULT_START.strftime("%Y-%m-%d"), help="UTC date")
    ap.add_argument("--anomalies", type=int, default=0, help="inject N random anomalies")
    ap.add_argument("--overwrite", action="store_true", help="replace OUT_DIR/AWSLogs")
    ap.add_argument(
        "--io-thread", action="store_true", help="compress and write files in a second thread"
    )
    args = ap.parse_args(argv)
    start = datetime.fromisoformat(args.start)
    injected = None
    if args.anomalies:
        population = principals(
            accounts=args.accounts, days=args.days, events=args.events, start=start, seed=args.seed
        )
        injected = random_anomalies(
            population, days=args.days, count=args.anomalies, seed=args.seed
        )
    result = generate(
        args.out_dir,
        accounts=args.accounts,
        days=args.days,
        events=args.events,
        start=start,
        seed=args.seed,
        anomalies=injected,
        overwrite=args.overwrite,
        io_thread=args.io_thread,
    )
    print(
        f"{result.events:,} events in {result.files:,} files "
        f"({result.bytes / 1e6:,.1f} MB gzip, {result.raw_bytes / 1e6:,.1f} MB JSON,"
        f" {result.raw_bytes / max(result.events, 1):,.0f} B/event) from {len(result.principals):,}"
        f" principals in {len(result.accounts):,} accounts; {result.seconds:,.1f} s"
        f" ({result.events_per_second:,.0f} events/s); {len(result.anomalies)} anomalies;"
        f" truth in {Path(result.out_dir) / TRUTH_FILE}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
