"""A short run of bench/rest_load.py: concurrent boto3 clients and GraphQL queries against a real
`gumshoe serve`, with zero errors and no lost update (the full run: 200 clients for 60 s)."""

from __future__ import annotations

import pytest

from bench.rest_load import run

pytestmark = pytest.mark.slow


def test_concurrent_management_calls_lose_nothing() -> None:
    result = run(clients=24, seconds=4, graphs=3)
    assert result["requests"] > 100
    assert result["errors"] == 0, result["error_samples"]
    assert result["lost_updates"] == []
    kinds = set(result["by_kind"])
    assert {"CreateMembers", "DeleteMembers", "TagResource", "GraphQL members"} <= kinds
