"""`gumshoe serve` runs uvicorn for real; probes reach it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graph.sqlite import SqliteStore
from graph.store import GraphInfo

GUMSHOE = str(Path(sys.executable).with_name("gumshoe"))
ARN = "arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CREDENTIALS = """[admin]
aws_access_key_id = AKIAADMIN0000000000
aws_secret_access_key = admin-secret
account_id = 111122223333
api_token = admin-token-0123456789
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "g.db"
    store = SqliteStore(db)
    store.create_graph(GraphInfo(ARN, "111122223333", 1_700_000_000))
    store.close()
    port = _free_port()
    credentials = tmp_path / "credentials.ini"
    credentials.write_text(CREDENTIALS)
    proc = subprocess.Popen(
        [GUMSHOE, "serve", "--store", f"sqlite://{db}", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # as the container image passes it: the credentials file named by the environment
        env={
            **os.environ,
            "GUMSHOE_CREDENTIALS": str(credentials),
            "GUMSHOE_RETENTION_INTERVAL": "0",
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"gumshoe serve did not come up: {out}")
                time.sleep(0.1)
        yield base, db
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_healthz_reports_the_store_and_its_graphs(served: tuple[str, Path]) -> None:
    base, db = served
    response = httpx.get(f"{base}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "ok", "store": f"sqlite://{db}", "graphs": 1}


def _serve_exits(*args: str) -> subprocess.CompletedProcess[str]:
    """`gumshoe serve` expected to stop at once (a refused option, an unreachable store)."""
    return subprocess.run(
        [GUMSHOE, "serve", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
        check=False,
    )


def test_serve_exits_3_when_the_store_is_unreachable() -> None:
    port = _free_port()
    run = _serve_exits("--store", f"janusgraph://127.0.0.1:{port}", "--port", "0")
    assert run.returncode == 3
    assert "store unreachable" in run.stderr


def test_credentials_come_from_the_environment(served: tuple[str, Path]) -> None:
    base, _ = served
    query = {"query": "{ graphs { arn adminAccountId } }"}
    token = {"Authorization": "Bearer admin-token-0123456789"}
    ok = httpx.post(f"{base}/graphql", json=query, headers=token)
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["graphs"] == [{"arn": ARN, "adminAccountId": "111122223333"}]
    refused = httpx.post(f"{base}/graphql", json=query, headers={"Authorization": "Bearer nope"})
    assert refused.status_code in (401, 403)


def test_a_negative_number_of_fit_processes_is_refused() -> None:
    run = _serve_exits("--fit-processes", "-1", "--no-auth")
    assert run.returncode == 2
    assert "--fit-processes" in run.stderr
