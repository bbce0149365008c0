"""`gumshoe serve` with --credentials or --no-auth, run as the real command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graph.sqlite import SqliteStore
from graph.store import GraphInfo
from tests.integration.uvicorn_thread import free_port

GUMSHOE = str(Path(sys.executable).with_name("gumshoe"))
ARN = "arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32
QUERY = {"query": "{ caller { name accountId unrestricted } graphs { arn } }"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GUMSHOE, "serve", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
        check=False,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "g.db"
    store = SqliteStore(path)
    store.create_graph(GraphInfo(ARN, "111122223333", 1_700_000_000))
    store.close()
    return path


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    path = tmp_path / "credentials.ini"
    path.write_text("[analyst]\naccount_id = 111122223333\napi_token = analyst-token-0123456789\n")
    return path


def _start(*args: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [GUMSHOE, "serve", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_serve_with_credentials(db: Path, credentials: Path) -> None:
    for base in _start("--store", f"sqlite://{db}", "--credentials", str(credentials)):
        assert httpx.post(f"{base}/graphql", json=QUERY).status_code == 401
        token = {"Authorization": "Bearer analyst-token-0123456789"}
        body = httpx.post(f"{base}/graphql", json=QUERY, headers=token).json()
        assert body == {
            "data": {
                "caller": {"name": "analyst", "accountId": "111122223333", "unrestricted": False},
                "graphs": [{"arn": ARN}],
            }
        }
        page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "GraphiQL" in page.text


def test_serve_without_auth_on_loopback(db: Path) -> None:
    for base in _start("--store", f"sqlite://{db}", "--no-auth"):
        body = httpx.post(f"{base}/graphql", json=QUERY).json()
        assert body["data"]["caller"]["unrestricted"] is True
        assert body["data"]["graphs"] == [{"arn": ARN}]


def test_no_auth_is_refused_off_loopback(db: Path) -> None:
    run = _run("--store", f"sqlite://{db}", "--no-auth", "--host", "0.0.0.0")
    assert run.returncode == 2
    assert "refused on '0.0.0.0'" in run.stderr


def test_bad_credentials_options(db: Path, credentials: Path, tmp_path: Path) -> None:
    both = _run("--store", f"sqlite://{db}", "--no-auth", "--credentials", str(credentials))
    assert both.returncode == 2 and "not both" in both.stderr
    missing = _run("--store", f"sqlite://{db}", "--credentials", str(tmp_path / "none.ini"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    broken = tmp_path / "broken.ini"
    broken.write_text("[x]\naccount_id = 12\napi_token = 0123456789abcdef\n")
    run = _run("--store", f"sqlite://{db}", "--credentials", str(broken))
    assert run.returncode == 2 and "account_id must be 12 digits" in run.stderr
