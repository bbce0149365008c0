"""Baselines fitted in worker processes (baselines.workers): the same answers as in-process,
one fit per principal's profile, and a pool that survives a worker's death."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import Authenticator, parse_credentials
from baselines.config import DEFAULT_CONFIG
from baselines.volume import compute_api_call_baseline
from baselines.workers import FitPool
from graph.open import open_store
from graph.store import GraphStore
from tests.conftest import GRAPH
from tests.integration.test_graphql_profiles import (
    ACCT,
    ADMIN,
    CREDENTIALS,
    NOW,
    PROFILE,
    SCOPE,
    D,
    R,
    U,
    gql,
    scenario,
)
from tests.integration.uvicorn_thread import serving

DAY = 86_400


def _profiles(store: GraphStore, fit_processes: int) -> tuple[list[dict[str, Any]], int]:
    """The profiles of a user, a role and an account from a server with `fit_processes`, and
    how many fits that server sent to its workers."""
    app = create_app(
        lambda: open_store(store.uri),
        authenticator=Authenticator(parse_credentials(CREDENTIALS)),
        clock=lambda: NOW,
        fit_processes=fit_processes,
    )
    with serving(app) as base, httpx.Client(base_url=base, headers=ADMIN, timeout=60) as client:
        out = [
            gql(client, PROFILE, g=GRAPH, type=t, id=k, scope=SCOPE)["entity"]
            for t, k in (("AWS_USER", U.key), ("AWS_ROLE", R.key), ("AWS_ACCOUNT", ACCT.key))
        ]
        pool = app.state.fit_pool
    return out, (0 if pool is None else pool.submitted)


def test_profiles_fitted_in_worker_processes_are_the_in_process_ones(store: GraphStore) -> None:
    scenario(store)
    local, sent_local = _profiles(store, 0)
    pooled, sent = _profiles(store, 2)
    assert pooled == local
    assert sent_local == 0
    # one per principal: the volume panel's hours and the baseline fields share the fit
    assert sent == 3
    # the baselines were there to compare: bounds and increased volume were filled in
    assert any(b["upper"] is not None for b in pooled[0]["apiCallVolume"]["buckets"])


def test_the_pool_fits_what_the_calling_thread_fits(store: GraphStore) -> None:
    """For each principal and scope of the scenario, the worker's baseline is the in-process
    one, value for value (floats survive pickling exactly)."""
    scenario(store)
    found = store.vertices(GRAPH, [U, R, ACCT])
    pool = FitPool(1, store.uri)
    try:
        for ref in (U, R, ACCT):
            first = found[ref].first
            for start, end in ((D, D + DAY), (D - 40 * DAY, D + 5 * DAY)):
                here = compute_api_call_baseline(
                    store, GRAPH, ref, start, end, DEFAULT_CONFIG, first
                )
                there = pool.api_call_baseline(store, GRAPH, ref, start, end, DEFAULT_CONFIG, first)
                assert there == here
        assert pool.submitted == 6
    finally:
        pool.close()


def test_a_pool_whose_worker_died_is_replaced(store: GraphStore) -> None:
    scenario(store)
    first = store.vertices(GRAPH, [ACCT])[ACCT].first
    expected = compute_api_call_baseline(store, GRAPH, ACCT, D, D + DAY, DEFAULT_CONFIG, first)
    pool = FitPool(1, store.uri)
    try:
        pool.start()
        worker = pool.run(os.getpid)
        assert worker != os.getpid()
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the worker is gone
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        got = pool.api_call_baseline(store, GRAPH, ACCT, D, D + DAY, DEFAULT_CONFIG, first)
        assert got == expected
        assert pool.run(os.getpid) not in (worker, os.getpid())
    finally:
        pool.close()


class _ShutDownAfterTaking:
    """The pool's lock, except that the first time a caller has taken the pool and let go,
    another thread (as it were) finds that pool broken: takes it out and shuts it down."""

    def __init__(self, pool: FitPool) -> None:
        self.pool, self.lock, self.struck = pool, threading.Lock(), False

    def __enter__(self) -> None:
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()
        taken = self.pool._executor
        if not self.struck and taken is not None:
            self.struck = True
            with self.lock:
                self.pool._executor = None
            taken.shutdown(wait=False)


def test_a_call_that_took_a_pool_being_replaced_uses_the_replacement(store: GraphStore) -> None:
    pool = FitPool(1, store.uri)
    try:
        pool.start()
        first = pool._executor
        pool._lock = _ShutDownAfterTaking(pool)  # type: ignore[assignment]
        worker = pool.run(os.getpid)
        assert pool._lock.struck and pool._executor not in (None, first)
        assert worker != os.getpid()
        assert pool.submitted == 2  # the shut-down pool, then its replacement
    finally:
        pool.close()


def test_a_pool_needs_at_least_one_process() -> None:
    with pytest.raises(ValueError, match="positive"):
        FitPool(0)
