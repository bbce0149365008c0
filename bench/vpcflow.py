"""VPC flow ingest throughput of the real loader against parse-only, on one CPU, from one run.

    python -m bench.vpcflow [--records N] [--files F] [--workdir DIR] [--cpu C]

Generates (or reuses) gzip flow-log files in the S3 layout (`AWSLogs/<account>/vpcflowlogs/
<region>/YYYY/MM/DD/`, version-2 format with its header line, one file per 5-minute window per
account like AWS delivers them) and measures, pinned to one CPU:

(a) parse-only: every file read, gunzipped and split into fields (`loaders.vpcflow.read_flows`,
    every row materialized) — what any loader must do;
(b) parse + aggregate: (a) plus the per-file aggregation (`FileFlows.add`), no graph writes;
(c) ingest: the real `Loader` into a fresh SQLite store;
and prints ingest / parse-only against the targets (>= 0.5, >= 300,000 records/s).

Traffic model: each interface talks to a pool of peers over long-lived connections (the same
5-tuple in many 5-minute windows) plus one-off flows with fresh ephemeral ports (scans, short
clients), so records aggregate as real ones do, neither perfectly nor not at all. The ratio of
distinct (interface, hour, peer, qualifier) keys to records is printed with the figures.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import io
import json
import os
import random
import tempfile
import time
from pathlib import Path

from graph.sqlite import SqliteStore
from loaders.pipeline import Loader
from loaders.vpcflow import DEFAULT_FORMAT, Chunk, read_flows
from loaders.vpcflow_graph import FileFlows

TARGET_RATIO = 0.5
TARGET_RECORDS_PER_S = 300_000
START = 1_709_251_200  # 2024-03-01T00:00Z


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


def parse_only(paths: list[Path]) -> int:
    n = 0
    for p in paths:
        for item in read_flows(io.BytesIO(gzip.decompress(p.read_bytes())), None):
            if isinstance(item, Chunk):
                n += sum(1 for r in item.rows if r)
    return n


def parse_aggregate(paths: list[Path]) -> tuple[int, int]:
    """(b) as the loader runs it (stage_flow_file also pauses the cyclic GC)."""
    gc.disable()
    n = keys = 0
    for p in paths:
        flows = FileFlows(str(p))
        for item in read_flows(io.BytesIO(gzip.decompress(p.read_bytes())), None):
            if isinstance(item, Chunk):
                flows.add(item)
        n += flows.loaded
        keys += sum(len(plan.agg) for plan in flows.plans.values())
    gc.enable()
    return n, keys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--files", type=int, default=288)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "gumshoe-bench"))
    ap.add_argument("--cpu", type=int, default=None)
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

    t = time.perf_counter()
    records = parse_only(paths)
    parse_s = time.perf_counter() - t
    t = time.perf_counter()
    aggregated, keys = parse_aggregate(paths)
    agg_s = time.perf_counter() - t
    db = root.parent / "vpc-bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = SqliteStore(db)
    t = time.perf_counter()
    report = Loader(store).load([str(root)])
    ingest_s = time.perf_counter() - t
    store.close()
    assert report.loaded == records == aggregated, (report.loaded, records, aggregated)
    figures |= {
        "records": records,
        "distinct_keys_per_record": round(keys / records, 3),
        "parse_only_records_per_s": round(records / parse_s),
        "parse_aggregate_records_per_s": round(records / agg_s),
        "ingest_records_per_s": round(records / ingest_s),
        "ingest_seconds": round(ingest_s, 2),
        "ratio_ingest_to_parse_only": round(parse_s / ingest_s, 3),
        "db_mb": round(db.stat().st_size / 2**20, 1),
        "loadavg": os.getloadavg(),
    }
    figures["checks"] = {
        f"ingest >= {TARGET_RATIO} x parse-only": parse_s / ingest_s >= TARGET_RATIO,
        f"ingest >= {TARGET_RECORDS_PER_S:,} records/s": records / ingest_s >= TARGET_RECORDS_PER_S,
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
