"""VPC flow ingest throughput of the real loader against parse-only, on one CPU, from one run.

    python -m bench.vpcflow [--records N] [--files F] [--workdir DIR] [--cpu C] [--profile N]

Generates (or reuses) gzip flow-log files in the S3 layout (`AWSLogs/<account>/vpcflowlogs/
<region>/YYYY/MM/DD/`, version-2 format with its header line, one file per 5-minute window per
account like AWS delivers them) and measures, pinned to one CPU:

(a) parse-only: every file read, gunzipped (isal, as the loader does) and split into fields,
    three ways: per record (`read_flows`, every row materialized as a list of bytes), into
    columns (`split_text`, pyarrow) and by the native core (`FlowBlock.split`, what the loader
    does when the core is built: field bounds of every row, no values); the fastest one is the
    reference;
(b) parse + aggregate: (a) plus the per-file aggregation (`FileFlows.add`), no graph writes;
(c) ingest: the real `Loader` into a fresh SQLite store, end to end (the store's share of it,
    SqliteStore.write, is printed apart);
and prints ingest / parse-only against the targets (>= 0.5, >= 300,000 records/s).

Rates are records per second of this process's CPU time (user + system) on the one CPU it is
pinned to, so that other load on a shared machine does not count against it; wall-clock rates
and the load average are printed with them. `--profile N` runs (c) under cProfile as well and
prints its N most expensive functions.

Traffic model: each interface talks to a pool of peers over long-lived connections (the same
5-tuple in many 5-minute windows) plus one-off flows with fresh ephemeral ports (scans, short
clients), so records aggregate as real ones do, neither perfectly nor not at all. The ratio of
distinct (interface, hour, peer, qualifier) keys to records is printed with the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import gzip
import io
import json
import os
import pstats
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from isal import igzip

from graph.batch import WriteBatch
from graph.sqlite import SqliteStore
from loaders.cloudtrail_native import BUILT
from loaders.pipeline import Loader
from loaders.vpcflow import DEFAULT_FORMAT, Chunk, read_flows
from loaders.vpcflow_columns import split_text
from loaders.vpcflow_graph import FileFlows
from loaders.vpcflow_native import split_only

TARGET_RATIO = 0.5
TARGET_RECORDS_PER_S = 300_000
START = 1_709_251_200  # 2024-03-01T00:00Z
T = TypeVar("T")


def generate(root: Path, records: int, files: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    accounts = [f"{rng.randrange(10**11, 10**12)}" for _ in range(4)]
    enis = {a: [f"eni-{rng.getrandbits(68):017x}" for _ in range(50)] for a in accounts}
    local = {e: f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
             for es in enis.values() for e in es}  # fmt: skip
    peers = [".".join(str(rng.randrange(1, 224)) for _ in range(4)) for _ in range(3000)]
    services = (443, 22, 80, 5432, 53)
    pools = {e: [(rng.choice(peers), rng.choice(services), rng.randrange(32768, 61000))
                 for _ in range(40)] for e in local}  # fmt: skip
    per_file = records // files
    out: list[Path] = []
    for n in range(files):
        account = accounts[n % len(accounts)]
        window = START + (n // len(accounts)) * 300
        day = time.strftime("%Y/%m/%d", time.gmtime(window))
        stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(window))
        folder = root / f"AWSLogs/{account}/vpcflowlogs/us-east-1/{day}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = [DEFAULT_FORMAT]
        for _ in range(per_file):
            eni = rng.choice(enis[account])
            if rng.random() < 0.8:
                peer, service, eph = rng.choice(pools[eni])
            else:
                peer, service, eph = (
                    rng.choice(peers),
                    rng.choice((22, 3389, 23)),
                    rng.randrange(1024, 65536),
                )
            start = window + rng.randrange(240)
            packets = rng.randrange(1, 200)
            me = local[eni]
            if rng.random() < 0.5:
                src, dst, sp, dp = peer, me, eph, service
            else:
                src, dst, sp, dp = me, peer, service, eph
            action = "ACCEPT" if rng.random() < 0.9 else "REJECT"
            lines.append(f"2 {account} {eni} {src} {dst} {sp} {dp} 6 {packets} {packets * 700} "
                         f"{start} {start + 60} {action} OK")  # fmt: skip
        path = folder / f"{account}_vpcflowlogs_us-east-1_fl-0abc_{stamp}_{n:08x}.log.gz"
        path.write_bytes(gzip.compress("\n".join(lines).encode() + b"\n", 6, mtime=0))
        out.append(path)
    return out


def _flows(path: Path) -> io.BytesIO:
    return io.BytesIO(igzip.decompress(path.read_bytes()))  # type: ignore[no-untyped-call]


def parse_only(paths: list[Path]) -> int:
    """(a) per record: each line split into a list of fields."""
    n = 0
    for p in paths:
        for item in read_flows(_flows(p), None):
            if isinstance(item, Chunk):
                n += sum(1 for r in item.rows if r)
    return n


def parse_only_columns(paths: list[Path]) -> int:
    """(a) into columns: each block of lines split into one binary array per field."""
    n = 0
    for p in paths:
        for item in read_flows(_flows(p), None):
            if isinstance(item, Chunk) and item.text is not None:
                split = split_text(item.text, len(item.fmt.fields), item.header)
                assert split is not None and not split.odd
                n += len(split.lines)
    return n


def parse_only_native(paths: list[Path]) -> int:
    """(a) by the native core: each block cut into lines and fields (bounds only)."""
    n = 0
    for p in paths:
        for item in read_flows(_flows(p), None):
            if isinstance(item, Chunk) and item.text is not None:
                rows = split_only(item.text, len(item.fmt.fields), item.header)
                assert rows >= 0
                n += rows
    return n


def parse_aggregate(paths: list[Path]) -> tuple[int, int]:
    """(b) as the loader runs it (stage_flow_file also pauses the cyclic GC); returns the
    records and the distinct (key, hour) aggregates of the files."""
    gc.disable()
    n = keys = 0
    for p in paths:
        flows = FileFlows(str(p))
        for item in read_flows(_flows(p), None):
            if isinstance(item, Chunk):
                flows.add(item)
        n += flows.loaded
        groups = flows.groups()
        keys += len(groups) if groups is not None else 0
    gc.enable()
    return n, keys


class _TimedStore(SqliteStore):
    """The SQLite store, timing its writes (the store's share of the ingest)."""

    cpu_s = wall_s = 0.0
    rows = 0

    def write(self, batch: WriteBatch) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        self.rows += len(batch)
        try:
            super().write(batch)
        finally:
            self.cpu_s += time.process_time() - cpu
            self.wall_s += time.perf_counter() - wall


def _timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """fn() with its CPU and wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def _fresh(db: Path) -> _TimedStore:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return _TimedStore(db)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--files", type=int, default=288)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "gumshoe-bench"))
    ap.add_argument("--cpu", type=int, default=None)
    ap.add_argument("--profile", type=int, default=0, metavar="N")
    args = ap.parse_args()
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    root = Path(args.workdir) / f"vpc-r{args.records}-f{args.files}"
    paths = sorted(root.rglob("*.log.gz")) if root.is_dir() else []
    if len(paths) != args.files:
        print(f"generating {args.records:,} records in {args.files} files under {root} ...")
        paths = sorted(generate(root, args.records, args.files))
    for p in paths:
        p.read_bytes()  # warm the page cache
    figures: dict[str, object] = {"cpu": cpu, "files": len(paths)}

    records, split_cpu, split_wall = _timed(lambda: parse_only(paths))
    columns, columns_cpu, columns_wall = _timed(lambda: parse_only_columns(paths))
    (aggregated, keys), agg_cpu, agg_wall = _timed(lambda: parse_aggregate(paths))
    parse_cpu, parse_wall = min(split_cpu, columns_cpu), min(split_wall, columns_wall)
    native_cpu = 0.0
    if BUILT:
        native, native_cpu, native_wall = _timed(lambda: parse_only_native(paths))
        assert native == records, (native, records)
        parse_cpu, parse_wall = min(parse_cpu, native_cpu), min(parse_wall, native_wall)
    db = root.parent / "vpc-bench.db"
    store = _fresh(db)
    report, ingest_cpu, ingest_wall = _timed(lambda: Loader(store).load([str(root)]))
    store.close()
    assert report.loaded == records == columns == aggregated, (report.loaded, records, columns)

    def rate(seconds: float) -> int:
        return round(records / seconds)

    figures |= {
        "records": records,
        "distinct_keys_per_record": round(keys / records, 3),
        "parse_only_records_per_s": rate(parse_cpu),
        "parse_only_split_per_record_records_per_s": rate(split_cpu),
        "parse_only_split_columns_records_per_s": rate(columns_cpu),
        "parse_only_split_native_records_per_s": rate(native_cpu) if BUILT else None,
        "parse_aggregate_records_per_s": rate(agg_cpu),
        "ingest_records_per_s": rate(ingest_cpu),
        "ingest_cpu_seconds": round(ingest_cpu, 2),
        "store_write_cpu_seconds": round(store.cpu_s, 2),
        "store_rows_written": store.rows,
        "ratio_ingest_to_parse_only": round(parse_cpu / ingest_cpu, 3),
        "wall_clock": {
            "parse_only_records_per_s": rate(parse_wall),
            "ingest_records_per_s": rate(ingest_wall),
            "ingest_seconds": round(ingest_wall, 2),
            "store_write_seconds": round(store.wall_s, 2),
            "ratio_ingest_to_parse_only": round(parse_wall / ingest_wall, 3),
        },
        "db_mb": round(db.stat().st_size / 2**20, 1),
        "loadavg": os.getloadavg(),
    }
    ratio, per_s = parse_cpu / ingest_cpu, records / ingest_cpu
    figures["checks"] = {
        f"ingest >= {TARGET_RATIO} x parse-only": "PASS" if ratio >= TARGET_RATIO else "FAIL",
        f"ingest >= {TARGET_RECORDS_PER_S:,} records/s": (
            "PASS" if per_s >= TARGET_RECORDS_PER_S else "FAIL"
        ),
    }
    print(json.dumps(figures, indent=1))
    if args.profile:
        profile(root, db, args.profile)


def profile(root: Path, db: Path, top: int) -> None:
    """The ingest again under cProfile: where its time goes, function by function."""
    store = _fresh(db)
    prof = cProfile.Profile(time.process_time)
    prof.runcall(lambda: Loader(store).load([str(root)]))
    store.close()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    main()
