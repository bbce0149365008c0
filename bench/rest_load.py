"""Load test of the management API: concurrent boto3 clients mixing Detective calls with GraphQL
queries against `gumshoe serve`, then a check that no acknowledged write was lost.

    python -m bench.rest_load [--clients 200] [--seconds 60] [--graphs 10] [--store URI]

The server is a real `gumshoe serve --credentials` process (its own interpreter, as deployed) on
a fresh SQLite store unless --store is given. Each client is a thread with its own boto3
`detective` client (SigV4, retries off) and HTTP client (GraphQL with a bearer token). Clients
share `--graphs` administrator accounts, so many write the same graph at once; each adds and
removes members from its own range of account ids and sets its own tag, and remembers what the
server acknowledged. Invited member accounts accept during the run. At the end every graph's
member list must be exactly the acknowledged adds minus removes (plus the accepted members,
ENABLED), and its tags exactly each client's last write. Prints p50/p99 per call kind, errors
and lost updates, and writes bench/out/rest_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
GUMSHOE = str(Path(sys.executable).parent / "gumshoe")
GRAPHQL = "{ graphs { arn } }"
MEMBERS_QUERY = (
    "query($g: ID!) { members(graphArn: $g) { ... on MemberList { members { accountId } } } }"
)


def _admin(i: int) -> str:
    return f"1000000000{i:02d}"


def _member(i: int) -> str:
    return f"2000000000{i:02d}"


def credentials(graphs: int) -> str:
    out = []
    for role, count, account in (("admin", graphs, _admin), ("member", graphs, _member)):
        for i in range(count):
            out.append(
                f"[{role}{i}]\naws_access_key_id = AKIA{role.upper()}{i:012d}\n"
                f"aws_secret_access_key = {role}-{i}-secret\naccount_id = {account(i)}\n"
                f"api_token = {role}-{i}-token-0123456789\n"
            )
    return "\n".join(out)


def boto(base: str, role: str, i: int) -> Any:
    return boto3.client(
        "detective",
        endpoint_url=base,
        region_name="us-east-1",
        aws_access_key_id=f"AKIA{role.upper()}{i:012d}",
        aws_secret_access_key=f"{role}-{i}-secret",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=4),
    )


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            result = call()
        except Exception as e:
            with self.lock:
                self.errors.append(f"{kind}: {type(e).__name__}: {e}"[:300])
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.setdefault(kind, []).append(elapsed)
        return result


@dataclass
class Client:
    """One concurrent client: writes in its own account range of its administrator's graph."""

    n: int
    admin: int
    graph: str
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    tag: str | None = None
    seq: int = 0

    def next_account(self) -> str:
        self.seq += 1
        return f"3{self.n:04d}{self.seq:07d}"


def run_client(c: Client, base: str, deadline: float, stats: Stats, seed: int) -> None:
    rnd = random.Random(seed)
    api = boto(base, "admin", c.admin)
    token = f"admin-{c.admin}-token-0123456789"
    # idle connections are dropped before uvicorn's 5 s keep-alive ends: a request sent on a
    # connection the server is closing at that moment fails, in any HTTP/1.1 client
    limits = httpx.Limits(keepalive_expiry=2.0)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, limits=limits) as http:
        while time.monotonic() < deadline:
            pick = rnd.random()
            if pick < 0.30:
                accounts = [c.next_account() for _ in range(rnd.randint(1, 3))]
                body = [{"AccountId": a, "EmailAddress": f"{a}@example.com"} for a in accounts]
                out = stats.timed(
                    "CreateMembers", partial(api.create_members, GraphArn=c.graph, Accounts=body)
                )
                if out is not None:
                    c.added.update(m["AccountId"] for m in out["Members"])
            elif pick < 0.40 and c.added - c.removed:
                victim = rnd.choice(sorted(c.added - c.removed))
                out = stats.timed(
                    "DeleteMembers",
                    partial(api.delete_members, GraphArn=c.graph, AccountIds=[victim]),
                )
                if out is not None and victim in out["AccountIds"]:
                    c.removed.add(victim)
            elif pick < 0.55:
                stats.timed(
                    "ListMembers", lambda: api.list_members(GraphArn=c.graph, MaxResults=50)
                )
            elif pick < 0.62 and c.added:
                some = rnd.sample(sorted(c.added), min(5, len(c.added)))
                stats.timed(
                    "GetMembers", partial(api.get_members, GraphArn=c.graph, AccountIds=some)
                )
            elif pick < 0.67:
                value = f"v{c.seq}-{rnd.randint(0, 10**6)}"
                key = f"client-{c.n}"
                out = stats.timed(
                    "TagResource",
                    partial(api.tag_resource, ResourceArn=c.graph, Tags={key: value}),
                )
                if out is not None:
                    c.tag = value
            elif pick < 0.72:
                stats.timed(
                    "ListTagsForResource", lambda: api.list_tags_for_resource(ResourceArn=c.graph)
                )
            elif pick < 0.77:
                stats.timed("ListGraphs", api.list_graphs)
            elif pick < 0.87:
                stats.timed("GraphQL graphs", lambda: _graphql(http, GRAPHQL, {}))
            elif pick < 0.95:
                stats.timed(
                    "GraphQL members", lambda: _graphql(http, MEMBERS_QUERY, {"g": c.graph})
                )
            else:
                stats.timed("healthz", lambda: _ok(http.get("/healthz")))


def _ok(response: httpx.Response) -> httpx.Response:
    response.raise_for_status()
    return response


def _graphql(http: httpx.Client, query: str, variables: dict[str, Any]) -> Any:
    body = _ok(http.post("/graphql", json={"query": query, "variables": variables})).json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def run_member(i: int, base: str, deadline: float, stats: Stats, accepted: set[str]) -> None:
    """A member account: accepts each invitation once, then keeps listing its invitations."""
    api = boto(base, "member", i)
    while time.monotonic() < deadline:
        out = stats.timed("ListInvitations", api.list_invitations)
        for inv in (out or {}).get("Invitations", []):
            if inv["Status"] == "INVITED":
                arn = inv["GraphArn"]
                if stats.timed("AcceptInvitation", partial(api.accept_invitation, GraphArn=arn)):
                    accepted.add(arn)
        time.sleep(0.05)


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gumshoe serve exited with {proc.returncode} (see serve.log)")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gumshoe serve did not answer /healthz")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run(*, clients: int, seconds: float, graphs: int, store: str | None = None) -> dict[str, Any]:
    """Serve, load, verify; returns the figures (errors and lost updates included)."""
    work = Path(tempfile.mkdtemp(prefix="rest-load-"))
    creds = work / "credentials.ini"
    creds.write_text(credentials(graphs))
    store_uri = store or f"sqlite://{work / 'load.db'}"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GUMSHOE_MAX_MEMBERS": "1000000", "GUMSHOE_RETENTION_INTERVAL": "0"}
    serve = [
        GUMSHOE,
        "serve",
        "--store",
        store_uri,
        "--port",
        str(port),
        "--credentials",
        str(creds),
    ]
    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen(serve, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base, proc)
        arns = [boto(base, "admin", i).create_graph()["GraphArn"] for i in range(graphs)]
        for i, arn in enumerate(arns):
            invite = [
                {"AccountId": _member(j), "EmailAddress": "m@example.com"} for j in range(graphs)
            ]
            boto(base, "admin", i).create_members(GraphArn=arn, Accounts=invite)
        workers = [Client(n, n % graphs, arns[n % graphs]) for n in range(clients)]
        stats = Stats()
        accepted: list[set[str]] = [set() for _ in range(graphs)]
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(target=run_client, args=(c, base, deadline, stats, c.n))
            for c in workers
        ] + [
            threading.Thread(target=run_member, args=(i, base, deadline, stats, accepted[i]))
            for i in range(graphs)
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        lost = verify(base, arns, workers, graphs, accepted)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    every = [x for xs in stats.latencies.values() for x in xs]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(every),
        "requests_per_second": round(len(every) / elapsed, 1),
        "p50_ms": round(1000 * _percentile(every, 0.50), 1),
        "p99_ms": round(1000 * _percentile(every, 0.99), 1),
        "errors": len(stats.errors),
        "error_samples": stats.errors[:10],
        "lost_updates": lost,
        "by_kind": {
            kind: {
                "n": len(xs),
                "p50_ms": round(1000 * _percentile(xs, 0.50), 1),
                "p99_ms": round(1000 * _percentile(xs, 0.99), 1),
            }
            for kind, xs in sorted(stats.latencies.items())
        },
    }


def verify(
    base: str, arns: list[str], workers: list[Client], graphs: int, accepted: list[set[str]]
) -> list[str]:
    """Every difference between what the server acknowledged and what it now holds."""
    lost: list[str] = []
    for i, arn in enumerate(arns):
        api = boto(base, "admin", i)
        held: dict[str, str] = {}
        token = None
        while True:
            page = api.list_members(
                GraphArn=arn, MaxResults=200, **({"NextToken": token} if token else {})
            )
            held.update({m["AccountId"]: m["Status"] for m in page["MemberDetails"]})
            token = page.get("NextToken")
            if not token:
                break
        mine = [c for c in workers if c.graph == arn]
        expected = set().union(*(c.added - c.removed for c in mine)) | {
            _member(j) for j in range(graphs)
        }
        if set(held) != expected:
            missing, extra = sorted(expected - set(held)), sorted(set(held) - expected)
            lost.append(
                f"{arn}: missing {missing[:5]} ({len(missing)}), extra {extra[:5]} ({len(extra)})"
            )
        for j in range(graphs):
            if arn in accepted[j] and held.get(_member(j)) != "ENABLED":
                lost.append(f"{arn}: {_member(j)} accepted but {held.get(_member(j))}")
        tags = api.list_tags_for_resource(ResourceArn=arn)["Tags"]
        for c in mine:
            if c.tag is not None and tags.get(f"client-{c.n}") != c.tag:
                lost.append(f"{arn}: tag client-{c.n} is {tags.get(f'client-{c.n}')}, not {c.tag}")
    return lost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--graphs", type=int, default=10)
    parser.add_argument("--store", help="store URI (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    result = run(clients=args.clients, seconds=args.seconds, graphs=args.graphs, store=args.store)
    result["load_average"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rest_load.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'kind':24} {'n':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, k in result["by_kind"].items():
        print(f"{kind:24} {k['n']:>7} {k['p50_ms']:>8} {k['p99_ms']:>8}")
    print(
        f"{result['requests']} requests in {result['seconds']} s from {result['clients']} clients"
        f" ({result['requests_per_second']}/s): p50 {result['p50_ms']} ms, p99 {result['p99_ms']}"
        f" ms, {result['errors']} errors, {len(result['lost_updates'])} lost updates"
    )
    for line in result["error_samples"] + result["lost_updates"][:10]:
        print("  " + line)
    return 0 if not result["errors"] and not result["lost_updates"] else 1


if __name__ == "__main__":
    sys.exit(main())
