"""Baselines fitted in other processes.

A profile's per-method API call baseline is its largest piece of CPU work (the busiest account of
the 10-million-event benchmark: 74 methods x 1,080 hours, about 12 ms), and inside the API
server it competed for the interpreter lock with everything else the request does (building the
response, decoding the panels' reads): a cold profile was bound by that one lock. `FitPool` runs
the fits in worker processes that open the store from its URI themselves, so the server's process
keeps only the rest; results come back pickled (they are immutable values). The API passes it to
`baselines.volume.api_call_baseline` as its `fitter`; the BaselineCache stays in the server.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing.context import BaseContext
from typing import Any

import numpy as np

from baselines.config import DEFAULT_CONFIG, BaselineConfig
from baselines.seasonal import fit_baselines
from baselines.volume import ApiCallBaseline, compute_api_call_baseline
from graph.model import VertexRef
from graph.store import GraphStore

# the worker's own collector: a fit allocates little that lives, and a full collection walking
# numpy's and statsmodels' modules would stall a fit (the server does the same, api/gc_schedule)
_WORKER_GC_THRESHOLD = 50_000
# pools a call may try: a broken one replaced once, plus replacements shut down under it
_TRIES = 4
_stores: dict[str, GraphStore] = {}


def _start_worker(uri: str | None) -> None:
    if uri:  # the server's store, opened (and read once) now rather than by the first fit
        _store(uri).list_graphs()
    # one small fit of 45 days, so that the first request's is not the one running numpy's
    # and the model's code for the first time in this process
    hours = DEFAULT_CONFIG.baseline_days * 24
    week = np.tile(np.arange(24, dtype=np.float64), hours // 24)
    fit_baselines(np.vstack([week, week / 2]), start=0, horizon=24)
    gc.collect()
    gc.freeze()
    gc.set_threshold(_WORKER_GC_THRESHOLD, 10, 10)


def _store(uri: str) -> GraphStore:
    """The store of `uri`, opened once per worker and kept for the process's life."""
    from graph.open import open_store

    store = _stores.get(uri)
    if store is None:
        store = _stores[uri] = open_store(uri)
    return store


def _ready() -> int:
    return 1


def _fit_api_call_baseline(
    uri: str,
    graph: str,
    principal: VertexRef,
    start: int,
    end: int,
    config: BaselineConfig,
    first: int | None,
) -> ApiCallBaseline:
    return compute_api_call_baseline(_store(uri), graph, principal, start, end, config, first)


class FitPool:
    """Worker processes fitting baselines (the server's lifetime: `start`, then `close`)."""

    def __init__(self, processes: int, uri: str | None = None) -> None:
        """`uri`: the store the workers will read, opened as each one starts."""
        if not isinstance(processes, int) or processes < 1:
            raise ValueError(f"processes must be a positive int, got {processes!r}")
        self.processes = processes
        self.uri = uri
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self.submitted = 0  # fits sent to the workers (tests and operators look at it)

    def _new_executor(self) -> ProcessPoolExecutor:
        # forkserver: workers start from a clean process, not a fork of a threaded server
        # (spawn where there is none: Windows)
        context: BaseContext = multiprocessing.get_context("spawn")
        if "forkserver" in multiprocessing.get_all_start_methods():
            forkserver = multiprocessing.get_context("forkserver")
            forkserver.set_forkserver_preload(["baselines.workers"])
            context = forkserver
        return ProcessPoolExecutor(
            self.processes, mp_context=context, initializer=partial(_start_worker, self.uri)
        )

    def start(self) -> None:
        """Start every worker and wait until each has imported the model and opened the store
        (the first requests should not pay for it): as many calls at once as there are workers,
        so that the pool starts them all."""
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor()
            executor = self._executor
        for f in [executor.submit(_ready) for _ in range(self.processes)]:
            f.result()

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` in a worker. A pool whose worker died (killed, out of memory) is
        replaced once, and the call made again there. A call that took the pool just before
        another thread found it broken and shut it down goes to the replacement."""
        broken = 0
        for _ in range(_TRIES):
            with self._lock:
                if self._executor is None:
                    self._executor = self._new_executor()
                executor = self._executor
                self.submitted += 1
            try:
                return executor.submit(fn, *args).result()
            except BrokenProcessPool:
                with self._lock:
                    if self._executor is executor:
                        self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
                broken += 1
                if broken == 2:
                    raise
            except RuntimeError as e:
                # "cannot schedule new futures after shutdown": retried only when the pool
                # shut down was one another thread has since taken out of service
                with self._lock:
                    replaced = self._executor is not executor
                if not replaced or "after shutdown" not in str(e):
                    raise
        raise BrokenProcessPool(f"no usable worker pool after {_TRIES} tries")

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def api_call_baseline(
        self,
        store: GraphStore,
        graph: str,
        principal: VertexRef,
        start: int,
        end: int,
        config: BaselineConfig,
        first: int | None,
    ) -> ApiCallBaseline:
        """baselines.volume's `Fitter`: the fit in a worker, which reads `store` by its URI
        (in the calling thread for a store without one)."""
        uri = getattr(store, "uri", None)
        if not uri:
            return compute_api_call_baseline(store, graph, principal, start, end, config, first)
        found = self.run(_fit_api_call_baseline, uri, graph, principal, start, end, config, first)
        assert isinstance(found, ApiCallBaseline)
        return found
