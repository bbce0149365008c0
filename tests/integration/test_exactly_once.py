"""Exactly once: loading again changes nothing, and a load killed with SIGKILL at any moment and
run again ends with the graph an uninterrupted load produces."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from graph.sqlite import SqliteStore
from loaders.sources import iter_objects
from tests.integration.helpers import (
    DATASETS,
    delivery,
    event,
    export_text,
    load,
    load_and_export,
    trail_key,
    write,
)

FILES = 1000
BATCH_EVENTS = 50
ACCOUNTS = ("111122223333", "444455556666", "777788889999")
IPS = ("8.8.8.8", "1.1.1.1", "52.95.110.1", "10.0.4.7", "ec2.amazonaws.com", "AWS Internal")

# The loader in a child process, with small batches (LoadOptions.batch_events; the CLI has no
# option or environment variable for it). It prints "ready" once set up, then loads. A short
# pause after each object (the progress callback) stretches the load well past the longest kill
# delay on fast machines, without changing what is read or written.
CHILD = """
import json, sys, time
from graph.sqlite import SqliteStore
from loaders.pipeline import Loader, LoadOptions
store = SqliteStore(sys.argv[1])
def pause(obj, report):
    time.sleep(0.002)
loader = Loader(store, LoadOptions(batch_events=int(sys.argv[3])), progress=pause)
print("ready", flush=True)
report = loader.load([sys.argv[2]])
print(json.dumps(report.to_json()), flush=True)
sys.exit(report.exit_code)
"""


def _session_identity(account: str, role: str, session: str) -> dict[str, Any]:
    role_id = f"AROA{role.upper()}{account[:4]}"
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            }
        },
    }


def _records(rng: random.Random, n: int) -> list[dict[str, Any]]:
    account = ACCOUNTS[n % len(ACCOUNTS)]
    day, hour = 10 + n % 3, (n * 7) % 24
    out = []
    for i in range(rng.randint(3, 7)):
        time_ = f"2023-07-{day:02d}T{hour:02d}:{(n + i * 11) % 60:02d}:{i:02d}Z"
        ip = rng.choice(IPS)
        kind = rng.randrange(6)
        fields: dict[str, Any] = {"sourceIPAddress": ip}
        if rng.random() < 0.15:
            fields["errorCode"] = "AccessDenied"
        user = rng.choice(("alice", "bob", "carol"))
        if kind == 0:
            out.append(event("ListBuckets", time_, account=account, user=user, **fields))
        elif kind == 1:
            params = {"bucketName": f"data-{account}-{rng.randrange(3)}", "key": "x"}
            ui = _session_identity(account, "Reader", f"job-{rng.randrange(4)}")
            out.append(
                event(
                    rng.choice(("GetObject", "PutObject")),
                    time_,
                    account=account,
                    userIdentity=ui,
                    requestParameters=params,
                    **fields,
                )
            )
        elif kind == 2:
            session = f"job-{rng.randrange(4)}"
            ui = _session_identity(account, "Reader", session)
            role_arn = ui["sessionContext"]["sessionIssuer"]["arn"]
            params = {"roleArn": role_arn, "roleSessionName": session}
            response = {"assumedRoleUser": {"assumedRoleId": ui["principalId"], "arn": ui["arn"]}}
            out.append(
                event(
                    "AssumeRole",
                    time_,
                    source="sts.amazonaws.com",
                    account=account,
                    user=user,
                    requestParameters=params,
                    responseElements=response,
                    **fields,
                )
            )
        elif kind == 3:
            ui = _session_identity(account, "WebServer", "i-0123456789abcdef0")
            out.append(
                event(
                    "DescribeInstances",
                    time_,
                    source="ec2.amazonaws.com",
                    account=account,
                    userIdentity=ui,
                    **fields,
                )
            )
        elif kind == 4:
            ui = {"type": "AWSService", "invokedBy": "config.amazonaws.com"}
            out.append(event("GetBucketAcl", time_, account=account, userIdentity=ui, **fields))
        else:
            resp = {"ConsoleLogin": rng.choice(("Success", "Failure"))}
            out.append(
                event(
                    "ConsoleLogin",
                    time_,
                    source="signin.amazonaws.com",
                    account=account,
                    user=user,
                    responseElements=resp,
                    **fields,
                )
            )
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred small gzip objects in CloudTrail's S3 layout (plus an org trail)."""
    root = tmp_path_factory.mktemp("corpus")
    rng = random.Random(20230710)
    for n in range(FILES):
        records = _records(rng, n)
        account = ACCOUNTS[n % len(ACCOUNTS)]
        org = "o-1234abcde" if n % 5 == 0 else ""
        key = trail_key(
            account,
            "us-east-1",
            f"2023-07-{10 + n % 3}",
            f"2023071{n % 3}T{n:04d}Z",
            f"f{n:05d}",
            org,
        )
        write(root / key, delivery(records), compress=True)
    # one broken object: exactly once holds for failures too
    write(root / trail_key(ACCOUNTS[0], "us-east-1", "2023-07-11", "20230711T9999Z", "bad"), b"{")
    return root / "AWSLogs"


@pytest.fixture(scope="module")
def baseline(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return load_and_export(
        tmp_path_factory.mktemp("baseline") / "g.db", [corpus], batch_events=BATCH_EVENTS
    )


def _ledger(db: Path, corpus: Path) -> tuple[int, int]:
    """(ledger entries, entries of loaded objects) of the corpus."""
    store = SqliteStore(db)
    try:
        graphs = store.list_graphs()
        if not graphs:
            return 0, 0
        uris = [obj.uri for obj in iter_objects([str(corpus)])]
        entries = [e for v in store.ledger(graphs[0].arn, uris).values() for e in v]
        return len(entries), sum(1 for e in entries if e.status != "failed")
    finally:
        store.close()


def _start(db: Path, corpus: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(corpus), str(BATCH_EVENTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n", proc.stderr.read() if proc.stderr else ""
    return proc


def _kill_after(proc: subprocess.Popen[str], delay: float) -> bool:
    """SIGKILL the child after `delay` seconds; False when it had finished already."""
    time.sleep(delay)
    finished = proc.poll() is not None
    if not finished:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    return not finished


def test_loading_twice_gives_the_same_export(corpus: Path, baseline: str, tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    first, store = load(db, [corpus], batch_events=BATCH_EVENTS)
    store.close()
    assert (first.loaded_files, len(first.failed)) == (FILES, 1)
    again, store = load(db, [corpus], batch_events=BATCH_EVENTS)
    try:
        assert (again.already_loaded, again.loaded, again.loaded_files) == (FILES, 0, 0)
        assert export_text(store) == baseline
    finally:
        store.close()


def test_uninterrupted_child_matches_the_baseline(
    corpus: Path, baseline: str, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    proc = _start(db, corpus)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err  # the broken object
    report = json.loads(out)
    assert (report["loaded_files"], report["failed_files"]) == (FILES, 1)
    assert load_and_export(db, [corpus], batch_events=BATCH_EVENTS) == baseline


@pytest.mark.parametrize("seed", range(6))
def test_sigkill_at_random_moments_then_rerun(
    corpus: Path, baseline: str, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(1000 + seed)
    db = tmp_path / "g.db"
    kills = 1 + seed % 2  # odd seeds kill the resumed run too (earlier, so that it is running)
    for _ in range(kills):
        killed = _kill_after(_start(db, corpus), rng.uniform(0.05, 1.0 if kills == 1 else 0.5))
        assert killed, "the load finished before the kill: make the corpus larger"
    entries, loaded = _ledger(db, corpus)
    assert entries <= FILES + 1 and loaded < FILES
    report, store = load(db, [corpus], batch_events=BATCH_EVENTS)
    try:
        assert export_text(store) == baseline
        # what the killed runs committed is skipped, the rest loads; nothing twice
        assert (report.already_loaded, report.loaded_files) == (loaded, FILES - loaded)
        assert len(report.failed) == 1
    finally:
        store.close()
    assert _ledger(db, corpus) == (FILES + 1, FILES)


def test_a_load_outlives_the_kill_delays(corpus: Path, tmp_path: Path) -> None:
    """The kill test is only meaningful if a load takes longer than the longest kill delay."""
    proc = _start(tmp_path / "g.db", corpus)
    started = time.monotonic()
    proc.communicate(timeout=300)
    assert time.monotonic() - started > 1.5


def _role_session_data(root: Path) -> None:
    """A session acting before the AssumeRole that created it appears; the two events disagree
    on the role ARN (the session's ARN loses the role's path)."""
    account = "111122223333"
    use = event(
        "ListBuckets",
        "2023-07-10T11:00:00Z",
        account=account,
        userIdentity={
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEDEPLOY:sess",
            "arn": f"arn:aws:sts::{account}:assumed-role/Deploy/sess",
            "accountId": account,
        },
    )
    assume = event(
        "AssumeRole",
        "2023-07-10T12:00:00Z",
        source="sts.amazonaws.com",
        account=account,
        requestParameters={
            "roleArn": f"arn:aws:iam::{account}:role/team/Deploy",
            "roleSessionName": "sess",
        },
        responseElements={
            "assumedRoleUser": {
                "assumedRoleId": "AROAEXAMPLEDEPLOY:sess",
                "arn": f"arn:aws:sts::{account}:assumed-role/Deploy/sess",
            }
        },
    )
    write(root / "a.json", delivery([use]))
    write(root / "b.json", delivery([assume]))


def test_batch_boundaries_do_not_change_the_graph(tmp_path: Path) -> None:
    """A resumed load cuts batches elsewhere than an uninterrupted one: the graph must not
    depend on where batches end."""
    _role_session_data(tmp_path / "in")
    one_by_one = load_and_export(tmp_path / "small.db", [tmp_path / "in"], batch_events=1)
    all_at_once = load_and_export(tmp_path / "big.db", [tmp_path / "in"])
    assert one_by_one == all_at_once


def test_batch_boundaries_do_not_change_the_real_data_graph(tmp_path: Path) -> None:
    one_by_one = load_and_export(tmp_path / "small.db", [DATASETS], batch_events=1)
    all_at_once = load_and_export(tmp_path / "big.db", [DATASETS])
    assert one_by_one == all_at_once
