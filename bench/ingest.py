"""Ingest throughput of the real loader against a decode-only baseline, on one CPU.

    python -m bench.ingest [--events N] [--accounts A] [--days D] [--workdir DIR] [--keep]

Generates (or reuses) a `bench.workload` CloudTrail workload and measures, from one run:
(by default 10 million events of 100 accounts over 14 days, the scale the targets name: about
2.2 GB of gzip in 584k files, 17 events a file; `--events 1000000` gives the same accounts and
days at a tenth of the activity, 3.4 events a file, where per-file work weighs far more)

(a)  decode-only: every file read, gunzipped with isal and fully decoded into Python objects with
     `msgspec.json.decode` (untyped), in this process pinned to one CPU;
(a2) the same with the loader's own typed decode (`loaders.cloudtrail.read_events`) for reference;
(b)  ingest: the real `Loader` into a fresh SQLite store, in a separate process pinned to the same
     CPU, so that (c) its peak RSS (`ru_maxrss` from wait4) is its own;
(d)  ingest / decode-only, and pass/fail against the targets: ingest >= 0.5 x decode-only,
     >= 100,000 events/s, peak RSS <= 512 MB.

Order: the files are read once to warm the page cache; (a) decodes every other file, (b) runs,
(a) decodes the rest, then (a2). Bracketing the ingest so cancels most of the VM's drift in
speed, which runs over minutes; both halves' rates are printed. (b) is forked while this process
is small, without the file list (a forked child keeps its parent's resident set until exec, and
Linux folds that into the child's ru_maxrss; the child's own VmHWM is recorded as a cross-check).
Prints a table and writes the figures to bench/out/ingest.json. Other processes on the machine
skew the numbers: the load average before and after is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.decode_passes import decode_typed, decode_untyped, files_of, pinned, warm
from bench.stage_clock import StageClock

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
TARGET_RATIO = 0.5
TARGET_EVENTS_PER_S = 100_000
TARGET_RSS_MB = 512


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _workload(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """Reuse or generate the workload; generation runs in a subprocess so that this process
    stays small: a forked child inherits its parent's resident set until exec, and Linux counts
    that in the child's ru_maxrss."""
    workdir = Path(args.workdir).resolve()
    root = workdir / f"ct-a{args.accounts}-d{args.days}-e{args.events}-s{args.seed}"
    manifest = root / ".workload.json"
    reused = manifest.exists() and (root / "AWSLogs").is_dir()
    if reused:
        print(f"reusing workload {root}")
    else:
        print(f"generating workload in {root} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "bench.workload", str(root), "--accounts", str(args.accounts),
             "--days", str(args.days), "--events", str(args.events), "--seed", str(args.seed),
             "--overwrite"],
            env=_env(),
            check=True,
        )  # fmt: skip
    info: dict[str, Any] = json.loads(manifest.read_text())
    info["reused"] = reused
    return root, info


def _child(args: argparse.Namespace) -> int:
    """Run the loader once (this process is already pinned) and print its figures as JSON."""
    import resource

    from graph.sqlite import SqliteStore
    from loaders.pipeline import Loader, LoadOptions

    db = Path(args.db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = SqliteStore(db)
    loader = Loader(store, LoadOptions())
    stages = StageClock(store)
    began = time.perf_counter()
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        report = profiler.runcall(loader.load, [args.root])
        profiler.dump_stats(args.profile)
    else:
        report = loader.load([args.root])
    seconds = time.perf_counter() - began
    stages.stop()
    store.close()
    out = {
        "cpus": sorted(os.sched_getaffinity(0)),
        "seconds": seconds,
        "report_seconds": report.seconds,
        "files": report.files,
        "loaded_files": report.loaded_files,
        "partial_files": report.partial_files,
        "failed_files": report.failed_files,
        "skipped_files": report.skipped_files,
        "records": report.records,
        "loaded": report.loaded,
        "skipped": report.skipped,
        "record_errors": report.record_errors,
        "errors": report.errors[:10],
        "failed": [f"{f.source}: {f.reason}" for f in report.failed[:10]],
        "bytes_read": report.bytes_read,
        "db_bytes": sum(
            Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists()
        ),
        "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "vm_hwm_kb": _status_kb("VmHWM"),
        "stage_cpu_seconds": stages.seconds,
    }
    print("GUMSHOE-BENCH " + json.dumps(out))
    return 0


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in kB (0 if unknown)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _ingest(root: Path, db: Path, cpu: int, profile: str | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.ingest", "--child", "--db", str(db), "--root", str(root)]
    if profile:
        cmd += ["--profile", profile]

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    began = time.perf_counter()
    parent_rss_kb = _status_kb("VmRSS")
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, preexec_fn=pin, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - began
    if proc.returncode:
        raise SystemExit(f"ingest child failed (exit {proc.returncode}):\n{output}")
    line = next(x for x in output.splitlines() if x.startswith("GUMSHOE-BENCH "))
    child: dict[str, Any] = json.loads(line.removeprefix("GUMSHOE-BENCH "))
    child["maxrss_kb"] = usage.ru_maxrss
    child["parent_rss_at_fork_kb"] = parent_rss_kb
    child["user_seconds"] = usage.ru_utime
    child["system_seconds"] = usage.ru_stime
    child["process_seconds"] = wall
    return child


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=str(OUT / "work"))
    ap.add_argument("--keep", action="store_true", help="keep the SQLite store")
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last)")
    ap.add_argument("--profile", default=None, help="cProfile the ingest child into this file")
    ap.add_argument("--out", default=str(OUT / "ingest.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args)

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    load_before = os.getloadavg()
    root, workload = _workload(args)
    logs = root / "AWSLogs"
    n_files, gz_bytes, read_s = warm(logs)  # the page cache holds the files for every pass
    # decode-only brackets the ingest, half of the files before it and half after: the VM's
    # speed drifts by 10-20% over minutes, and one pass after a long ingest measured another
    # machine (the ratio moved between 0.42 and 0.49 from run to run)
    print("decode-only, first half ...", flush=True)
    with pinned(cpu):  # (the file list is dropped before the ingest child is forked)
        before = decode_untyped(files_of(logs)[0::2])
    db = Path(args.workdir).resolve() / "ingest.db"
    print(f"ingest: Loader -> {db} (child pinned to CPU {cpu}) ...", flush=True)
    ingest = _ingest(logs, db, cpu, args.profile)
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    print("decode-only, second half; typed decode ...", flush=True)
    files = files_of(logs)
    with pinned(cpu):
        after = decode_untyped(files[1::2])
        typed = decode_typed(files)
    del files
    untyped = {k: before[k] + after[k] for k in ("events", "json_bytes", "seconds")}
    load_after = os.getloadavg()

    decode_eps = untyped["events"] / untyped["seconds"]
    typed_eps = typed["events"] / typed["seconds"]
    ingest_eps = ingest["loaded"] / ingest["seconds"]
    rss_mb = ingest["maxrss_kb"] / 1024
    if ingest["parent_rss_at_fork_kb"] >= ingest["maxrss_kb"]:  # inherited, not the loader's
        rss_mb = ingest["vm_hwm_kb"] / 1024
    ratio = ingest_eps / decode_eps
    checks = {
        "ingest >= 0.5 x decode-only": ratio >= TARGET_RATIO,
        f"ingest >= {TARGET_EVENTS_PER_S:,} events/s": ingest_eps >= TARGET_EVENTS_PER_S,
        f"peak RSS <= {TARGET_RSS_MB} MB": rss_mb <= TARGET_RSS_MB,
        "every record loaded": ingest["loaded"] == untyped["events"]
        and not ingest["record_errors"]
        and not ingest["failed_files"],
    }
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "pinned_cpu": cpu,
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "workload": {
            "dir": str(root),
            "warm_read_seconds": read_s,
            "events": untyped["events"],
            "files": n_files,
            "gzip_bytes": gz_bytes,
            "json_bytes": untyped["json_bytes"],
            "events_per_file": untyped["events"] / max(n_files, 1),
            "generate": workload,
        },
        "decode_only": {
            **untyped,
            "events_per_s": decode_eps,
            "halves_events_per_s": [x["events"] / x["seconds"] for x in (before, after)],
            "gzip_mb_per_s": gz_bytes / 1e6 / untyped["seconds"],
            "json_mb_per_s": untyped["json_bytes"] / 1e6 / untyped["seconds"],
        },
        "decode_typed": {
            **typed,
            "events_per_s": typed_eps,
            "gzip_mb_per_s": gz_bytes / 1e6 / typed["seconds"],
            "json_mb_per_s": typed["json_bytes"] / 1e6 / typed["seconds"],
        },
        "ingest": {**ingest, "events_per_s": ingest_eps, "peak_rss_mb": rss_mb},
        "ratio_ingest_to_decode": ratio,
        "targets": {
            "ratio": TARGET_RATIO,
            "events_per_s": TARGET_EVENTS_PER_S,
            "rss_mb": TARGET_RSS_MB,
        },
        "checks": checks,
        "passed": all(checks.values()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    _print(result)
    print(f"\nwritten to {out}")
    return 0 if result["passed"] else 1


def _print(r: dict[str, Any]) -> None:
    w, d, t, i = r["workload"], r["decode_only"], r["decode_typed"], r["ingest"]
    h = r["host"]
    print()
    print(
        f"workload: {w['events']:,} events in {w['files']:,} files"
        f" ({w['events_per_file']:.1f} events/file), {w['gzip_bytes'] / 1e6:,.1f} MB gzip,"
        f" {w['json_bytes'] / 1e6:,.1f} MB JSON  [{w['dir']}]"
    )
    print(
        f"single core: every pass pinned to CPU {h['pinned_cpu']} with os.sched_setaffinity"
        f" (ingest child CPUs {i['cpus']}); load average before {h['loadavg_before'][0]:.2f},"
        f" after {h['loadavg_after'][0]:.2f} on {h['cpus']} CPUs"
    )
    rows = [
        ("(a)  decode-only: isal gunzip + msgspec.json.decode (untyped)", d),
        ("(a2) loader's typed decode: isal gunzip + read_events", t),
    ]
    print()
    print(f"{'pass':<64}{'events/s':>12}{'MB/s gzip':>11}{'MB/s JSON':>11}{'seconds':>10}")
    for name, x in rows:
        print(
            f"{name:<64}{x['events_per_s']:>12,.0f}{x['gzip_mb_per_s']:>11,.1f}"
            f"{x['json_mb_per_s']:>11,.1f}{x['seconds']:>10,.2f}"
        )
    gz_mbs = w["gzip_bytes"] / 1e6 / i["seconds"]
    json_mbs = w["json_bytes"] / 1e6 / i["seconds"]
    print(
        f"{'(b)  ingest: Loader -> fresh SQLite store (child process)':<64}"
        f"{i['events_per_s']:>12,.0f}{gz_mbs:>11,.1f}{json_mbs:>11,.1f}{i['seconds']:>10,.2f}"
    )
    print()
    print(
        f"(c)  ingest peak RSS: {i['peak_rss_mb']:,.0f} MB (ru_maxrss of the child via wait4:"
        f" {i['maxrss_kb'] / 1024:,.0f} MB; its own VmHWM: {i['vm_hwm_kb'] / 1024:,.0f} MB;"
        f" parent RSS at fork {i['parent_rss_at_fork_kb'] / 1024:,.0f} MB)"
    )
    first, second = d["halves_events_per_s"]
    print(
        f"(d)  ingest / decode-only: {r['ratio_ingest_to_decode']:.3f}"
        f" (decode-only {first:,.0f} events/s before the ingest, {second:,.0f} after)"
    )
    print(
        f"     loaded {i['loaded']:,} of {i['records']:,} records; {i['record_errors']} record"
        f" errors, {i['failed_files']} failed files; store {i['db_bytes'] / 1e6:,.0f} MB;"
        f" child user {i['user_seconds']:.1f} s, system {i['system_seconds']:.1f} s"
    )
    cpu = i["stage_cpu_seconds"]
    print(
        f"     ingest CPU by stage: read, decode and stage {cpu['read_decode_stage']:.1f} s;"
        f" expand to deltas {cpu['expand']:.1f} s; store write {cpu['store_write']:.1f} s"
    )
    for e in i["errors"][:3] + i["failed"][:3]:
        print(f"     ! {e}")
    print()
    for name, ok in r["checks"].items():
        print(f"     [{'PASS' if ok else 'FAIL'}] {name}")


if __name__ == "__main__":
    sys.exit(main())
