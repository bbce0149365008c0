"""Latency of a full principal profile over GraphQL, through uvicorn and a real HTTP client.

    python -m bench.graphql_profile [--events N] [--accounts A] [--days D]
                                    [--small-events N] [--small-accounts A] [--requests R]

Builds (or reuses, cached under bench/out/work/) two embedded stores from `bench.workload`
CloudTrail workloads with the same event density per account: a large one (default 10,000,000
events from 1,000 accounts) and a small one (default 100,000 events from 10 accounts; the same
seed, so its accounts are the large graph's first ten). Each store is loaded with `gumshoe load`
(once loaded, the workload's AWSLogs may be deleted) and served by `gumshoe serve --no-auth` in
its own process (the start-up retention job switched off: it is not part of a profile). Then,
with a keep-alive httpx client per server, one request at a time, the full profile query (every
panel: API call volume with all drill-downs, new behaviors, resource interaction, involved
findings and finding groups) for:

- the busiest role of the first account, in both graphs, requests alternating between them so
  that the machine's other work weighs on both alike: 24-hour and 45-day scopes ending at the
  workload's last hour, p50 and p99, and the p50 ratio large / small (target <= 1.5);
- the busiest role and the busiest account of the whole large graph, same scopes.

Each case is measured twice. *Warm*: the same scope again and again, as an analyst reloading a
profile or a frontend refetching it; the server's BaselineCache (baselines and which items are
new, per entity, scope and observed span) answers those after the first request. *Cold*: every
request a scope no earlier request used (the scope slid back one hour per request), so every
baseline, new behavior and fit is computed from the store; this is what the first view of a
profile costs (the SQLite pages stay in the OS cache either way).

Targets: p99 <= 50 ms (24 hours) and <= 250 ms (45 days) on the large graph, for every case
(the busiest role of the first account, of the whole graph, and the busiest account), warm and
cold. Prints a table and writes bench/out/graphql_profile.json. Other processes on the machine
skew the numbers: the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
GUMSHOE = str(Path(sys.executable).with_name("gumshoe"))
HOUR, DAY = 3600, 86_400
TARGET_P99_MS = {"24h": 50.0, "45d": 250.0}
TARGET_RATIO = 1.5

PROFILE = """
query Profile($g: ID!, $type: EntityType!, $id: ID!, $scope: ScopeInput!) {
  entity(graphArn: $g, type: $type, id: $id) {
    id type firstObserved lastObserved
    involvedFindings(scope: $scope) { id findingType severity }
    findingGroups(scope: $scope) { id title severity }
    ... on Principal {
      apiCallVolume(scope: $scope) {
        totalSuccess totalFailed
        buckets { start success failed expected lower upper }
        byMethod { service method success failed firstObserved lastObserved
                   sourceIps { ipAddress success failed } }
        bySourceIp { ipAddress success failed methods { service method success failed } }
        byCaller { callerId callerType success failed caller { id lastObserved } }
      }
      newBehaviors(scope: $scope) {
        apiCalls { service method success failed firstObserved newlyObserved increasedVolume }
        userAgents { userAgent success failed firstObserved newlyObserved }
        geolocations { location country city success failed firstObserved newlyObserved }
        asos { aso asn organization success failed firstObserved newlyObserved }
        increasedVolume { method }
      }
      resourceInteraction(scope: $scope) {
        role { entityId } instance { entityId }
        startedBy { entityId via firstObserved }
        sessions { entityId count firstObserved lastObserved }
        assumedBy { entityId via throughSessionIds }
        sessionsStarted { entityId count }
        rolesAssumed { entityId entity { ... on AwsRole { name arn } } }
        launchedBy { entityId }
      }
    }
  }
}
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["GUMSHOE_RETENTION_INTERVAL"] = "0"
    return env


def _db(root: Path) -> Path:
    return root.parent / f"{root.name}.graphql.db"


def workload(workdir: Path, events: int, accounts: int, days: int, seed: int) -> Path:
    """The workload directory, generated once (same layout as bench.ingest, so it is shared)."""
    root = workdir / f"ct-a{accounts}-d{days}-e{events}-s{seed}"
    loaded = _db(root).with_suffix(".loaded").exists()
    if (root / ".workload.json").exists() and ((root / "AWSLogs").is_dir() or loaded):
        # once loaded, only the manifest and the ground truth are needed: AWSLogs (millions of
        # small files at 10 million events) may be deleted
        print(f"reusing workload {root}", flush=True)
        return root
    print(f"generating workload in {root} ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "bench.workload", str(root), "--accounts", str(accounts),
         "--days", str(days), "--events", str(events), "--seed", str(seed), "--overwrite",
         "--io-thread"],
        env=_env(), check=True,
    )  # fmt: skip
    return root


def store(root: Path) -> tuple[Path, float | None]:
    """The loaded SQLite store of a workload (cached next to it); (path, load seconds)."""
    db = _db(root)
    done = db.with_suffix(".loaded")
    if done.exists() and db.exists():
        print(f"reusing store {db}", flush=True)
        return db, None
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    print(f"loading {root} into {db} ...", flush=True)
    began = time.perf_counter()
    run = subprocess.run(
        [GUMSHOE, "load", "--store", f"sqlite://{db}", "--json", str(root / "AWSLogs")],
        env=_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    if run.returncode != 0:
        raise SystemExit(f"gumshoe load failed ({run.returncode}):\n{run.stderr[-3000:]}")
    report = json.loads(run.stdout)
    done.write_text(json.dumps({"seconds": seconds, "report": report}, default=str))
    return db, seconds


def _busiest(root: Path, label: str, account: str | None) -> tuple[str, int]:
    """(key, events) of the principal with the most events over the workload, from its ground
    truth (a scan of the store for this would take minutes at 10 million events)."""
    truth = json.loads((root / ".truth.json").read_text())["principals"]
    if label == "AwsAccount":
        totals: dict[str, int] = {}
        for p in truth:
            totals[p["account"]] = totals.get(p["account"], 0) + int(p["events"])
        key = max(totals, key=lambda a: totals[a])
        return key, totals[key]
    mine = [p for p in truth if p["label"] == label and account in (None, p["account"])]
    if not mine:
        raise SystemExit(f"no {label} in {root}")
    best = max(mine, key=lambda p: int(p["events"]))
    return str(best["key"]), int(best["events"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(db: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [GUMSHOE, "serve", "--store", f"sqlite://{db}", "--no-auth", "--port", str(port)],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("gumshoe serve did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Arm = tuple[httpx.Client, dict[str, Any]]


def _slid(variables: dict[str, Any], hours: int) -> dict[str, Any]:
    """The same profile with its scope slid back `hours` hours (a scope of the same length)."""
    scope = variables["scope"]
    start, end = (
        int(datetime.strptime(scope[k], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
        for k in ("start", "end")
    )
    return variables | {
        "scope": {"start": _iso(start - hours * HOUR), "end": _iso(end - hours * HOUR)}
    }


def measure(
    arms: Sequence[Arm], requests: int, warmup: int, *, cold: bool = False
) -> list[dict[str, Any]]:
    """Latency of the profile query for each (client, variables) arm. Arms take turns request
    by request, so that what else the machine does weighs on all of them alike. `cold`: each
    request slides the scope back one more hour, so that no baseline is cached for it (the
    measured requests use scopes the warm-up did not)."""
    times: list[list[float]] = [[] for _ in arms]
    last: list[httpx.Response] = []
    for i in range(warmup + requests):
        last = []
        for arm, (client, base) in enumerate(arms):
            variables = _slid(base, i + 1) if cold else base
            began = time.perf_counter()
            r = client.post("/graphql", json={"query": PROFILE, "variables": variables})
            elapsed = time.perf_counter() - began
            data = r.json()
            if r.status_code != 200 or data.get("errors") or not data["data"]["entity"]:
                raise SystemExit(f"profile query failed: {r.status_code} {r.text[:2000]}")
            if i >= warmup:
                times[arm].append(elapsed * 1000)
            last.append(r)
    out = []
    for arm_times, r in zip(times, last, strict=True):
        v = r.json()["data"]["entity"]
        q = statistics.quantiles(arm_times, n=100, method="inclusive")
        volume = v["apiCallVolume"]
        out.append(
            {
                "cache": "cold" if cold else "warm",
                "p50_ms": statistics.median(arm_times),
                "p99_ms": q[98],
                "max_ms": max(arm_times),
                "requests": requests,
                "response_bytes": len(r.content),
                "rows": {
                    "buckets": len(volume["buckets"]),
                    "by_method": len(volume["byMethod"]),
                    "by_source_ip": len(volume["bySourceIp"]),
                    "by_caller": len(volume["byCaller"]),
                    "api_calls": len(v["newBehaviors"]["apiCalls"]),
                    "sessions": len(v["resourceInteraction"]["sessions"]),
                    "calls": volume["totalSuccess"] + volume["totalFailed"],
                },
            }
        )
    return out


def _show(graph: str, name: str, scope: str, m: dict[str, Any]) -> None:
    print(
        f"  {graph:<5} {name:<26} {scope:>4} {m['cache']:<4}"
        f"  p50 {m['p50_ms']:7.1f} ms  p99 {m['p99_ms']:7.1f} ms"
        f"  ({m['type']} {m['principal']}, {m['rows']['calls']:,} calls in scope,"
        f" {m['response_bytes'] / 1e3:,.0f} kB)",
        flush=True,
    )


def _variables(client: httpx.Client, kind: str, key: str, start: int, end: int) -> dict[str, Any]:
    graph = client.post("/graphql", json={"query": "{ graphs { arn } }"}).json()
    return {
        "g": graph["data"]["graphs"][0]["arn"], "type": kind, "id": key,
        "scope": {"start": _iso(start), "end": _iso(end)},
    }  # fmt: skip


def _first_account(root: Path) -> str:
    return str(json.loads((root / ".workload.json").read_text())["accounts"][0])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.graphql_profile", description=__doc__)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--small-events", type=int, default=100_000)
    ap.add_argument("--small-accounts", type=int, default=10)
    ap.add_argument("--days", type=int, default=46, help="workload days (>= 45 for the scope)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--requests", type=int, default=200, help="measured requests per case")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument(
        "--cold-requests", type=int, default=50,
        help="measured requests per case with a scope no earlier request used (0: none)",
    )  # fmt: skip
    ap.add_argument("--workdir", default=str(OUT / "work"))
    ap.add_argument("--out", default=str(OUT / "graphql_profile.json"))
    args = ap.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    graphs: dict[str, Any] = {}
    built: dict[str, tuple[Path, Path, dict[str, Any]]] = {}
    for size, events, accounts in (
        ("small", args.small_events, args.small_accounts),
        ("large", args.events, args.accounts),
    ):
        root = workload(workdir, events, accounts, args.days, args.seed)
        manifest = json.loads((root / ".workload.json").read_text())
        db, load_s = store(root)
        built[size] = (root, db, manifest)
        graphs[size] = {
            "events": manifest["events"],
            "accounts": accounts,
            "days": args.days,
            "store": str(db),
            "store_bytes": db.stat().st_size,
            "load_seconds": load_s,
            "cases": {},
        }
        print(f"{size}: {manifest['events']:,} events, {accounts:,} accounts", flush=True)
    load_before = os.getloadavg()
    root, _, manifest = built["large"]
    end = int(manifest["end"])
    scopes = {"24h": (end - DAY, end), "45d": (end - 45 * DAY, end)}
    with ExitStack() as stack:
        clients = {
            size: stack.enter_context(
                httpx.Client(base_url=stack.enter_context(server(db)), timeout=120)
            )
            for size, (_, db, _) in built.items()
        }
        # the same role in both graphs (the small graph's accounts are the large one's first),
        # its requests alternating between them
        modes = [("warm", False, args.requests, args.warmup)]
        if args.cold_requests > 0:
            # the cold scopes slide back from the warm one: none of them was asked before
            modes.append(("cold", True, args.cold_requests, 0))
        name = "busiest role, 1st account"
        key, events = _busiest(root, "AwsRole", _first_account(root))
        for scope, (start, stop) in scopes.items():
            arms = [(clients[g], _variables(clients[g], "AWS_ROLE", key, start, stop))
                    for g in ("small", "large")]  # fmt: skip
            for mode, cold, n, warmup in modes:
                results = measure(arms, n, warmup, cold=cold)
                for g, m in zip(("small", "large"), results, strict=True):
                    m |= {"principal": key, "type": "AWS_ROLE", "workload_events": events}
                    graphs[g]["cases"][f"{name}/{scope}/{mode}"] = m
                    _show(g, name, scope, m)
        for name, label in (("busiest role, whole graph", "AwsRole"),
                            ("busiest account", "AwsAccount")):  # fmt: skip
            key, events = _busiest(root, label, None)
            kind = "AWS_ROLE" if label == "AwsRole" else "AWS_ACCOUNT"
            for scope, (start, stop) in scopes.items():
                arm = (clients["large"], _variables(clients["large"], kind, key, start, stop))
                for mode, cold, n, warmup in modes:
                    (m,) = measure([arm], n, warmup, cold=cold)
                    m |= {"principal": key, "type": kind, "workload_events": events}
                    graphs["large"]["cases"][f"{name}/{scope}/{mode}"] = m
                    _show("large", name, scope, m)
    small = graphs["small"]["cases"]
    large = graphs["large"]["cases"]
    measured = [mode for mode, *_ in modes]
    ratios = {
        f"{scope}/{mode}": large[f"busiest role, 1st account/{scope}/{mode}"]["p50_ms"]
        / small[f"busiest role, 1st account/{scope}/{mode}"]["p50_ms"]
        for scope in ("24h", "45d")
        for mode in measured
    }
    checks = {
        f"p99 <= {TARGET_P99_MS[s]:.0f} ms ({s}, {mode}, {case})": large[f"{case}/{s}/{mode}"][
            "p99_ms"
        ]
        <= TARGET_P99_MS[s]
        for mode in measured
        for case in ("busiest role, 1st account", "busiest role, whole graph", "busiest account")
        for s in ("24h", "45d")
    }
    checks |= {f"p50 ratio large/small <= {TARGET_RATIO} ({s})": r <= TARGET_RATIO
               for s, r in ratios.items()}  # fmt: skip
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "graphs": graphs,
        "p50_ratio_large_to_small": ratios,
        "checks": checks,
        "passed": all(checks.values()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print()
    for s, r in ratios.items():
        print(f"p50 ratio {graphs['large']['events']:,} / {graphs['small']['events']:,} events"
              f" ({s}): {r:.2f}")  # fmt: skip
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    print(f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"written to {out}")  # fmt: skip
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
