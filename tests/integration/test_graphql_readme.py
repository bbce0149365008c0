"""The README's GraphQL example answers on the bundled sample data, served as the run command
serves it (the server's start-up retention included)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from api.app import create_app
from api.auth import Authenticator
from graph.open import open_store
from tests.conftest import DATA
from tests.integration.uvicorn_thread import serving

ROOT = Path(__file__).resolve().parents[2]
GUMSHOE = str(Path(sys.executable).with_name("gumshoe"))


def test_readme_example_query_on_the_sample_data(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    run = re.search(r"<!-- run-command -->\n```sh\n(.*?)\n```", readme, re.S)
    assert run is not None and run.group(1).rstrip().endswith("--no-auth")
    assert "gumshoe serve --store" in run.group(1)
    example = re.search(r"```graphql\n(.*?)```", readme, re.S)
    assert example is not None
    uri = f"sqlite://{tmp_path / 'gumshoe.db'}"
    load = subprocess.run(
        [GUMSHOE, "load", "--store", uri, str(DATA / "datasets")],
        capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    assert load.returncode == 1  # the samples hold broken files on purpose
    app = create_app(lambda: open_store(uri), authenticator=Authenticator(None))
    with serving(app) as base:
        graph = httpx.post(f"{base}/graphql", json={"query": "{ graphs { arn } }"}).json()
        arn = graph["data"]["graphs"][0]["arn"]
        body = httpx.post(
            f"{base}/graphql", json={"query": example.group(1), "variables": {"graph": arn}}
        ).json()
    assert "errors" not in body, body
    entity = body["data"]["entity"]
    assert entity["apiCallVolume"]["totalSuccess"] > 0
    assert entity["apiCallVolume"]["byCaller"] and entity["newBehaviors"]["apiCalls"]
