"""CPU seconds of a load's stages, for bench.ingest's ingest child."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class StageClock:
    """CPU seconds of the load's stages, timed around the calls made once per batch (the
    expansion of staged events into deltas and the store's write), so that timing adds nothing
    per file or event; the rest is reading, decoding and staging, with listing and ledger
    look-ups."""

    def __init__(self, store: Any) -> None:
        from loaders.cloudtrail_graph import CloudTrailDeltas

        self.seconds = {"expand": 0.0, "store_write": 0.0, "read_decode_stage": 0.0}
        self._began = time.process_time()
        self._expand = CloudTrailDeltas.expand
        CloudTrailDeltas.expand = self._timed("expand", self._expand)  # type: ignore[method-assign]
        store.write = self._timed("store_write", store.write)

    def _timed(self, stage: str, fn: Callable[..., None]) -> Callable[..., None]:
        def timed(*args: Any) -> None:
            began = time.process_time()
            try:
                fn(*args)
            finally:
                self.seconds[stage] += time.process_time() - began

        return timed

    def stop(self) -> None:
        from loaders.cloudtrail_graph import CloudTrailDeltas

        CloudTrailDeltas.expand = self._expand  # type: ignore[method-assign]
        total = time.process_time() - self._began
        self.seconds["read_decode_stage"] = (
            total - self.seconds["expand"] - self.seconds["store_write"]
        )
